// What a process loads is what it uses (docs/operating.md, "Memory"): a server without S3 storage, signature
// requirements, ACME or an admin listener never loads their libraries, and the supervisor of several workers,
// which serves nothing, loads neither the app nor an HTTP framework. Told by the modules each real process (the CLI
// through tsx) reports loading, once it listens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { mainScript } from '../support/mirror-process.js';

const traceHook = fileURLToPath(new URL('../support/module-trace.ts', import.meta.url));

/** Starts `serve` with `config`, waits for `ready` on stdout, stops it; returns the modules loaded, by pid. */
async function modulesLoaded(dir: string, config: Record<string, unknown>, ready: string): Promise<{ pid: number; byPid: Map<number, string[]> }> {
  await mkdir(dir);
  const file = join(dir, 'pullgate.yaml');
  const trace = join(dir, 'modules.txt');
  await writeFile(file, stringify({ listen: { http: '127.0.0.1:0' }, dataDir: join(dir, 'data'), log: { level: 'info' }, ...config }));
  await writeFile(trace, '');
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', traceHook, mainScript, 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PULLGATE_TEST_MODULE_TRACE: trace },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`"${ready}"`)) resolve();
    });
    void exited.then((code) => reject(new Error(`pullgate exited with ${code} before listening:\n${out}`)));
  });
  child.kill('SIGTERM');
  await exited;
  const byPid = new Map<number, string[]>();
  for (const line of (await readFile(trace, 'utf8')).split('\n').filter(Boolean)) {
    const [pid, url] = line.split(' ', 2) as [string, string];
    byPid.set(Number(pid), [...(byPid.get(Number(pid)) ?? []), url]);
  }
  return { pid: child.pid ?? 0, byPid };
}

const loads = (urls: string[], part: RegExp): string[] => urls.filter((u) => part.test(u));

describe('what a serving process loads', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'pullgate-lazy-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  test("a server without S3, signature requirements, ACME or admin loads none of their libraries, nor the supervisor or Node's bundled undici", { timeout: 60_000 }, async () => {
    const { pid, byPid } = await modulesLoaded(join(dir, 'one'), {}, 'pullgate listening');
    const urls = byPid.get(pid) ?? [];
    assert.ok(loads(urls, /\/src\/app\/app\.ts$/).length === 1, 'the trace sees the process load the app');
    assert.deepEqual(loads(urls, /\/node_modules\/@aws-sdk\//), [], 'the AWS SDK');
    assert.deepEqual(loads(urls, /\/node_modules\/(@sigstore|sigstore)\//), [], 'the Sigstore libraries');
    assert.deepEqual(loads(urls, /\/node_modules\/acme-client\//), [], 'the ACME client');
    assert.deepEqual(loads(urls, /\/node_modules\/@fastify\/(static|cookie)\//), [], "the admin's fastify plugins");
    assert.deepEqual(loads(urls, /\/src\/admin\/admin-server\.ts$/), [], 'the admin server');
    assert.deepEqual(loads(urls, /\/node_modules\/pino-pretty\//), [], 'pino-pretty (the log is JSON off a terminal)');
    assert.deepEqual(loads(urls, /\/src\/workers\/supervisor\.ts$/), [], 'the supervisor');
    assert.ok(loads(urls, /^node-internal:/).length > 0, "the trace sees Node's own modules");
    assert.deepEqual(loads(urls, /^node-internal:internal\/deps\/undici\//), [], "Node's bundled undici (server/node-http.ts)");
  });

  test('the supervisor of two workers loads neither the app, the registry server, the mirror, fastify nor undici', { timeout: 60_000 }, async () => {
    const { pid, byPid } = await modulesLoaded(join(dir, 'two'), { workers: 2 }, 'pullgate workers listening');
    const supervisor = byPid.get(pid) ?? [];
    const workers = [...byPid.entries()].filter(([p]) => p !== pid).map(([, urls]) => urls);
    assert.equal(workers.length, 2, 'two workers traced');
    for (const urls of workers) assert.equal(loads(urls, /\/src\/app\/app\.ts$/).length, 1, 'a worker loads the app');
    assert.equal(loads(supervisor, /\/src\/workers\/supervisor\.ts$/).length, 1, 'the supervisor loads its own module');
    assert.deepEqual(loads(supervisor, /\/src\/(app|server|mirror)\//), [], 'app, registry server or mirror code');
    assert.deepEqual(loads(supervisor, /\/node_modules\/(fastify|undici)\//), [], 'fastify or undici');
  });
});
