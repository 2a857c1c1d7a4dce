// The log format a person sees: `pullgate serve` as a child process, its stdout a pseudo-terminal (util-linux
// script(1)) or a pipe. Pretty and coloured on a terminal, with the generated admin password between two rules;
// JSON lines on a pipe; log.format and PULLGATE_LOG_FORMAT override the choice.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertInstalled } from '../support/installed-tools.js';
import { mainScript } from '../support/mirror-process.js';
import { until } from '../support/until.js';

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const ansi = /\u001b\[[0-9;]*m/g;

interface Run {
  /** Everything the server wrote to stdout, from start to its exit after SIGTERM. */
  output: string;
  code: number | null;
}

describe('log lines on a terminal and on a pipe', () => {
  let dir: string;
  let runs = 0;
  before(async () => {
    await assertInstalled('script');
    dir = await mkdtemp(join(tmpdir(), 'pullgate-log-format-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Starts `serve` with a fresh data directory, waits until it listens, stops it with SIGTERM. */
  async function serve(o: { terminal: boolean; config?: Record<string, unknown>; env?: Record<string, string> }): Promise<Run> {
    const run = join(dir, `run-${++runs}`);
    const config = join(dir, `pullgate-${runs}.yaml`);
    await writeFile(config, JSON.stringify({ listen: { http: '127.0.0.1:0', admin: '127.0.0.1:0' }, dataDir: join(run, 'data'), ...o.config }));
    const pidFile = join(dir, `pid-${runs}`);
    const argv = [process.execPath, '--import', 'tsx', mainScript, 'serve', '--config', config];
    // On a terminal: script(1) gives the shell a pseudo-terminal; the shell leaves its pid (then node's) behind.
    const child = o.terminal
      ? spawn('script', ['--quiet', '--return', '--command', `echo $$ > ${quote(pidFile)}; exec ${argv.map(quote).join(' ')}`, '/dev/null'], {
          env: { ...process.env, ...o.env, TERM: 'xterm' },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
      : spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    // 'close': the exit code once stdout has been read to its end.
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until(async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before listening:\n${output}`);
        return /pullgate listening/.test(output) ? true : undefined;
      });
      const pid = o.terminal ? Number((await readFile(pidFile, 'utf8')).trim()) : child.pid;
      assert.ok(pid);
      process.kill(pid, 'SIGTERM');
      const code = await exited;
      return { output, code };
    } finally {
      child.kill('SIGKILL');
    }
  }

  test('on a terminal: one coloured line per entry for a person, and the generated admin password between two rules', { timeout: 90_000 }, async () => {
    const { output, code } = await serve({ terminal: true });
    assert.equal(code, 0);
    assert.match(output, ansi, 'coloured');
    const lines = output.replace(ansi, '').split(/\r?\n/);
    assert.ok(!lines.some((l) => l.startsWith('{')), `no JSON line:\n${output}`);
    assert.ok(lines.some((l) => /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: pullgate listening \{"http":"http:\/\/127\.0\.0\.1:\d+"/.test(l)), output);
    const at = lines.findIndex((l) => /^\[admin\] admin password generated on first start: [A-Za-z0-9]{24} /.test(l));
    assert.ok(at > 1, `the password line:\n${output}`);
    assert.match(lines[at - 2] ?? '', /WARN: $/);
    assert.match(lines[at - 1] ?? '', /^={20,}$/);
    assert.equal(lines[at + 1], lines[at - 1]);
    assert.ok(lines.some((l) => /INFO: stopped$/.test(l)), 'the last line before exit is there');
  });

  test('on a pipe: JSON, one object per line, as log collectors read them', { timeout: 90_000 }, async () => {
    const { output, code } = await serve({ terminal: false });
    assert.equal(code, 0);
    const entries = output.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(entries.some((e) => e['msg'] === 'pullgate listening'));
    const password = entries.find((e) => String(e['msg']).startsWith('admin password generated on first start: '));
    assert.equal(password?.['highlight'], true);
    assert.equal(entries.at(-1)?.['msg'], 'stopped');
  });

  test('log.format: json keeps JSON on a terminal; PULLGATE_LOG_FORMAT=pretty makes a pipe pretty', { timeout: 120_000 }, async () => {
    const onTerminal = await serve({ terminal: true, config: { log: { format: 'json' } } });
    assert.equal(onTerminal.code, 0);
    const lines = onTerminal.output.trim().split(/\r?\n/);
    assert.ok(lines.length > 3 && lines.every((l) => l.startsWith('{"level":')), onTerminal.output);

    const onPipe = await serve({ terminal: false, env: { PULLGATE_LOG_FORMAT: 'pretty' } });
    assert.equal(onPipe.code, 0);
    assert.doesNotMatch(onPipe.output, ansi, 'no colours on a pipe');
    assert.match(onPipe.output, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: pullgate listening \{/m);
    assert.doesNotMatch(onPipe.output, /^\{"level"/m);
  });
});
