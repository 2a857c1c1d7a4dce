// What a worker reads from the environment the supervisor gives it (src/workers/worker-context.ts; docs/security.md,
// "Worker processes"): the secret that signs requests between the workers is read once and deleted from the
// environment, so that a process the worker spawns does not inherit it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { readWorkerContext, workerEnv } from '../../../src/workers/worker-context.js';

test('the workers\' secret is read once and deleted from the environment; a process spawned after does not inherit it', () => {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, [workerEnv.slot]: '1', [workerEnv.workers]: '3', [workerEnv.secret]: 'f'.repeat(64) };
  const context = readWorkerContext(env);
  assert.equal(context.secret, 'f'.repeat(64));
  assert.deepEqual([context.slot, context.workers, context.lead], [1, 3, false]);
  assert.equal(workerEnv.secret in env, false);
  const inherited = execFileSync(process.execPath, ['-e', `process.stdout.write(String(process.env.${workerEnv.secret}))`], { env }).toString();
  assert.equal(inherited, 'undefined');
  assert.throws(() => readWorkerContext(env), /without its slot and secret/, 'a second read finds no secret');
});

test('a worker started without its secret does not start', () => {
  assert.throws(() => readWorkerContext({ [workerEnv.slot]: '0', [workerEnv.workers]: '2' }), /without its slot and secret/);
});
