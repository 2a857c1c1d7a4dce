// Several workers that cannot start (docs/workers.md, "What holds for the machine as for one process"): the machine
// fails as one process does, exiting 1 with the reason and no stack trace, instead of replacing its workers for ever.
// A worker that dies once the machine serves is replaced (test/integration/workers.test.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { mainScript } from '../support/mirror-process.js';

let dir: string;
let taken: Server;
let port: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pullgate-workers-start-'));
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as { port: number }).port;
});

after(async () => {
  await new Promise((resolve) => taken.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** Runs `pullgate serve` until it exits, or kills it (and its workers with it) after `limitMs`. */
async function serveUntilExit(config: Record<string, unknown>, limitMs: number): Promise<{ code: number | null; output: string; killed: boolean }> {
  const file = join(dir, 'pullgate.yaml');
  await writeFile(file, stringify({ dataDir: join(dir, 'data'), listen: { admin: '127.0.0.1:0' }, ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    // The supervisor's SIGTERM stops its workers too.
    child.kill('SIGTERM');
  }, limitMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output, killed };
}

test('workers whose registry port is taken stop the machine: exit 1 with the reason, no replacements, no stack trace', async () => {
  const { code, output, killed } = await serveUntilExit({ workers: 2, listen: { http: `127.0.0.1:${port}`, admin: '127.0.0.1:0' } }, 20_000);
  assert.equal(killed, false, `still running after 20 s:\n${output}`);
  assert.equal(code, 1, output);
  assert.match(output, /EADDRINUSE/);
  assert.match(output, /a worker could not start/);
  assert.doesNotMatch(output, /starting a replacement/);
  assert.doesNotMatch(output, /\n\s+at /, 'a stack trace');
});

test('one process whose registry port is taken exits 1 with the reason and no stack trace', async () => {
  const { code, output, killed } = await serveUntilExit({ listen: { http: `127.0.0.1:${port}`, admin: '127.0.0.1:0' } }, 20_000);
  assert.equal(killed, false, `still running after 20 s:\n${output}`);
  assert.equal(code, 1, output);
  assert.match(output, /pullgate: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+/);
  assert.doesNotMatch(output, /\n\s+at /, 'a stack trace');
});
