// The process's memory settings (src/cli/memory-settings.ts, docs/operating.md#memory): what a process started
// without them runs again with, and when it runs as it is.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryEnv, memoryNodeArgs, memoryReexec, type ProcessStart } from '../../../src/cli/memory-settings.js';

const started = (o: Partial<ProcessStart> = {}): ProcessStart => ({
  execPath: '/usr/local/bin/node',
  execArgv: [],
  argv: ['/usr/local/bin/node', '/app/dist/src/main.js', 'serve', '--config', 'p.yaml'],
  env: { PATH: '/usr/bin', PULLGATE_DATA_DIR: '/data' },
  ...o,
});

describe('memoryReexec', () => {
  it('runs a process started without the settings again: the same command and environment plus every setting', () => {
    const r = memoryReexec(started({ execArgv: ['--import', './probe.mjs'] }));
    assert.deepEqual(r, {
      file: '/usr/local/bin/node',
      args: ['/usr/local/bin/node', ...memoryNodeArgs, '--import', './probe.mjs', '/app/dist/src/main.js', 'serve', '--config', 'p.yaml'],
      env: { PATH: '/usr/bin', PULLGATE_DATA_DIR: '/data', ...memoryEnv },
    });
  });

  it('leaves a process that has them as it is, so the one it runs again does not run another', () => {
    const again = memoryReexec(started());
    assert.ok(again);
    const argv = again.args;
    assert.equal(memoryReexec({ execPath: again.file, execArgv: argv.slice(1, 1 + memoryNodeArgs.length), argv: [argv[0]!, ...argv.slice(1 + memoryNodeArgs.length)], env: again.env }), undefined);
  });

  it('keeps what the environment, the node flags or NODE_OPTIONS already say, and adds only the rest', () => {
    const ownMalloc = memoryReexec(started({ env: { MALLOC_ARENA_MAX: '8' } }));
    assert.deepEqual(ownMalloc?.env, { ...memoryEnv, MALLOC_ARENA_MAX: '8' });
    assert.deepEqual(ownMalloc?.args.slice(1, 1 + memoryNodeArgs.length), memoryNodeArgs);
    const ownFlag = memoryReexec(started({ execArgv: ['--max_semi_space_size=64'] }));
    assert.deepEqual(ownFlag?.args.slice(0, 2), ['/usr/local/bin/node', '--max_semi_space_size=64']);
    const inNodeOptions = memoryReexec(started({ env: { ...memoryEnv, NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=32' } }));
    assert.equal(inNodeOptions, undefined);
  });

  it('leaves a process as started with PULLGATE_MEMORY_SETTINGS=off, and a cluster worker (it has its parent\'s)', () => {
    assert.equal(memoryReexec(started({ env: { PULLGATE_MEMORY_SETTINGS: 'off' } })), undefined);
    assert.equal(memoryReexec(started({ env: { NODE_UNIQUE_ID: '1' } })), undefined);
  });
});
