// The log format (src/logger.ts, src/pretty-log.ts): which one is chosen, what a pretty line holds, and how the
// setting is read from the config file, the environment and the command line.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { createLogger, logFormat, type LogFormat } from '../../src/logger.js';

/** A pretty logger writing into an array (no terminal: no colours). */
function prettyLines(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('info', { write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) }, 'pretty'), lines };
}

describe('the log format', () => {
  const cases: Array<[LogFormat | undefined, boolean, LogFormat]> = [
    [undefined, true, 'pretty'],
    [undefined, false, 'json'],
    ['json', true, 'json'],
    ['pretty', false, 'pretty'],
  ];
  for (const [configured, terminal, chosen] of cases) {
    it(`is ${chosen} when configured ${configured ?? 'nowhere'} and stdout is ${terminal ? 'a terminal' : 'not a terminal'}`, () => {
      assert.equal(logFormat(configured, terminal), chosen);
    });
  }

  it('a pretty line has the time, the level, [component], the message and the other fields as JSON, credentials redacted', () => {
    const { log, lines } = prettyLines();
    log.child({ component: 'registry' }).info({ status: 200, headers: { authorization: 'Bearer s3cr3t' } }, 'request');
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[registry\] request \{"status":200,"headers":\{"authorization":"\[redacted\]"\}\}$/);
    assert.doesNotMatch(lines.join('\n'), /s3cr3t|"service"|"component"/);
  });

  it('a failed request\'s line keeps its error field on the line, as every other field', () => {
    const { log, lines } = prettyLines();
    log.child({ component: 'registry' }).warn({ status: 503, error: { code: 'UNAVAILABLE', message: 'upstream gcr is unreachable' } }, 'request');
    assert.deepEqual(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', /WARN: \[registry\] request \{"status":503,"error":\{"code":"UNAVAILABLE","message":"upstream gcr is unreachable"\}\}$/);
  });

  it('a highlighted entry stands on its own line between two rules', () => {
    const { log, lines } = prettyLines();
    log.info('before');
    log.child({ component: 'admin' }).warn({ highlight: true }, 'admin password generated on first start: Abc123');
    log.info('after');
    assert.equal(lines.length, 6, lines.join('\n'));
    assert.match(lines[1] ?? '', /^\[[\d:.]+\] WARN: $/);
    assert.match(lines[2] ?? '', /^=+$/);
    assert.equal(lines[3], '[admin] admin password generated on first start: Abc123');
    assert.equal(lines[4], lines[2]);
    assert.match(lines[5] ?? '', /INFO: after$/);
  });

  it('terminal control characters in a message are dropped', () => {
    const { log, lines } = prettyLines();
    log.info('GET /v2/\u001b[2J\u001b]0;owned\u0007x');
    assert.match(lines[0] ?? '', /INFO: GET \/v2\/\[2J\]0;ownedx$/);
  });

  it('JSON stays one object per line, with the highlight as a field', () => {
    const lines: string[] = [];
    createLogger('info', { write: (s: string) => void lines.push(s) }).warn({ highlight: true }, 'admin password generated on first start: Abc123');
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(entry['highlight'], true);
    assert.equal(entry['msg'], 'admin password generated on first start: Abc123');
  });
});

describe('log.format in the configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-log-format-'));
    await writeFile(join(dir, 'p.yaml'), 'log: { format: json }\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is unset by default, read from the file, and PULLGATE_LOG_FORMAT and --log-format override it in that order', async () => {
    assert.equal((await loadConfig({ env: {}, cwd: dir })).log.format, undefined);
    const file = join(dir, 'p.yaml');
    assert.equal((await loadConfig({ file, env: {} })).log.format, 'json');
    assert.equal((await loadConfig({ file, env: { PULLGATE_LOG_FORMAT: 'pretty' } })).log.format, 'pretty');
    assert.equal((await loadConfig({ file, env: { PULLGATE_LOG_FORMAT: 'pretty' }, overrides: { logFormat: 'json' } })).log.format, 'json');
  });

  it('another value is refused with its path', async () => {
    await assert.rejects(loadConfig({ env: { PULLGATE_LOG_FORMAT: 'yaml' }, cwd: dir }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /log\.format: /);
      return true;
    });
  });
});
