// Pullgate as a child process (`serve` through the real CLI), for tests that kill it or restart it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const mainScript = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface MirrorProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  logs: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnMirror(dir: string, config: Record<string, unknown>): Promise<MirrorProcess> {
  const file = join(dir, 'pullgate.yaml');
  await writeFile(file, stringify({ listen: { http: '127.0.0.1:0' }, dataDir: join(dir, 'data'), log: { level: 'debug' }, ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        if (line.includes('"pullgate listening"')) resolve((JSON.parse(line) as { http: string }).http);
      }
    });
    void exited.then((code) => reject(new Error(`pullgate exited with ${code} before listening`)));
  });
  return {
    child,
    url,
    logs,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
