// A rejection nobody handled does not end a serving process: a real Node process installs the handler `serve`
// installs, lets a background task reject, and must still be running (and say so in its log) afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('unexpected rejections in a serving process', () => {
  it('are logged as errors and the process goes on', async () => {
    const r = await run(`
      import pino from 'pino';
      import { logUnhandledRejections } from './src/cli/process-failures.ts';
      logUnhandledRejections(process, pino());
      setTimeout(() => void Promise.reject(new Error('a background task failed')), 10);
      setTimeout(() => { console.log('still running'); process.exit(0); }, 300);
    `);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /still running/);
    const line = r.stdout.split('\n').find((l) => l.includes('background task'));
    assert.ok(line, r.stdout);
    const entry = JSON.parse(line) as { level: number; err: { message: string } };
    assert.equal(entry.level, 50, 'logged at error level');
    assert.equal(entry.err.message, 'a background task failed');
  });

  it('without the handler Node ends the process (what serve no longer allows)', async () => {
    const r = await run(`setTimeout(() => void Promise.reject(new Error('x')), 10); setTimeout(() => process.exit(0), 300);`);
    assert.notEqual(r.code, 0);
  });
});
