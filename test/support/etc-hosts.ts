// Test hostnames for real clients, which resolve names through /etc/hosts (docs/testing.md, "Real clients"): a block
// tagged with the owning process id, removed by `remove()`; blocks of processes that no longer run (a killed
// earlier run) are removed before a new one is added. The file is rewritten in place, never renamed, because
// /etc/hosts is often a bind mount.
import { readFile, writeFile } from 'node:fs/promises';

export const defaultHostsFile = '/etc/hosts';
const tag = 'pullgate-e2e';
const beginLine = /^# pullgate-e2e begin pid=(\d+) id=(\S+)$/;
const endLine = (id: string): string => `# ${tag} end id=${id}`;

export interface HostsBlock {
  /** Removes this block again; idempotent. */
  remove(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The file's lines without the blocks for which `drop(pid, id)` is true. */
function withoutBlocks(text: string, drop: (pid: number, id: string) => boolean): string {
  const out: string[] = [];
  let skippingUntil: string | undefined;
  for (const line of text.split('\n')) {
    if (skippingUntil !== undefined) {
      if (line === skippingUntil) skippingUntil = undefined;
      continue;
    }
    const begin = beginLine.exec(line);
    if (begin?.[1] !== undefined && begin[2] !== undefined && drop(Number(begin[1]), begin[2])) {
      skippingUntil = endLine(begin[2]);
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

const withFinalNewline = (text: string): string => (text === '' || text.endsWith('\n') ? text : `${text}\n`);

/** Maps `names` to `address` until `remove()`; needs write access to the hosts file (root). */
export async function addHostsBlock(names: string[], address = '127.0.0.1', file = defaultHostsFile): Promise<HostsBlock> {
  for (const name of names) if (!/^[a-z0-9.-]+$/.test(name)) throw new Error(`not a plain host name: ${name}`);
  const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const original = await readFile(file, 'utf8');
  const cleaned = withFinalNewline(withoutBlocks(original, (pid) => !alive(pid)));
  const block = [`# ${tag} begin pid=${process.pid} id=${id}`, `${address} ${names.join(' ')}`, endLine(id), ''].join('\n');
  try {
    await writeFile(file, cleaned + block);
  } catch (err) {
    throw new Error(`cannot add test host names to ${file} (the e2e tests need root): ${String(err)}`);
  }
  let removed = false;
  return {
    async remove() {
      if (removed) return;
      removed = true;
      const current = await readFile(file, 'utf8');
      await writeFile(file, withoutBlocks(current, (_pid, blockId) => blockId === id));
    },
  };
}
