// Starts the platform's floor for a cold pull: what a bare Node.js pass-through costs for the work of a cold Pullgate
// pull (TLS in, SHA-256, temp file, TLS out), so that the report can tell the share of Pullgate's cold cost that is
// the runtime's from the share that is Pullgate's own. Two kinds: `undici` reads the upstream with undici
// (bench/node-floor-server.mjs), `direct` straight from the socket into a reused buffer
// (bench/node-floor-direct-server.mjs), as Pullgate's fills do.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IssuedCert } from '../test/support/pki.js';
import type { RealRegistry } from '../test/support/real-registry.js';
import { spawnChild, type Child } from './child.js';

export interface NodeFloor {
  child: Child;
  url: string;
}

export type FloorKind = 'undici' | 'direct';

const scripts: Record<FloorKind, string> = { undici: 'node-floor-server.mjs', direct: 'node-floor-direct-server.mjs' };

export async function startNodeFloor(o: { dir: string; reg: RealRegistry; cert: IssuedCert; kind: FloorKind; startTimeoutMs?: number }): Promise<NodeFloor> {
  await mkdir(o.dir, { recursive: true });
  const portFile = join(o.dir, 'port');
  const child = spawnChild({
    name: `node floor (${o.kind})`,
    command: process.execPath,
    args: [join(import.meta.dirname, scripts[o.kind]), portFile, o.reg.url, o.reg.caFile, o.cert.certPath, o.cert.keyPath, o.dir],
    // undici resolves from the project's node_modules.
    cwd: join(import.meta.dirname, '..'),
  });
  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  for (;;) {
    const port = await readFile(portFile, 'utf8').catch(() => '');
    if (port !== '') return { child, url: `https://127.0.0.1:${port}` };
    if (child.exited() || Date.now() > deadline) {
      await child.stop(1_000);
      throw new Error(`node floor did not start\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
