// Every duration in the config has a maximum: a value past it is a config error naming the key, never a timer that
// Node clamps to 1 ms (setTimeout takes at most 2^31-1 ms, about 24.8 days) and that then fires at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const timerMaxMs = 2 ** 31 - 1;
const up = { name: 'hub', registry: 'docker.io', url: 'https://registry-1.docker.io' };

/** Each duration key: a config that sets it to `value`, and the path its problem is reported under. */
const durations: Array<[path: string, set: (value: string) => Record<string, unknown>]> = [
  ['cache.fillIdleTimeout', (v) => ({ cache: { fillIdleTimeout: v } })],
  ['timeouts.connect', (v) => ({ timeouts: { connect: v } })],
  ['timeouts.headers', (v) => ({ timeouts: { headers: v } })],
  ['timeouts.idle', (v) => ({ timeouts: { idle: v } })],
  ['timeouts.keepAlive', (v) => ({ timeouts: { keepAlive: v } })],
  ['tls.helloTimeout', (v) => ({ tls: { helloTimeout: v } })],
  ['shutdownGrace', (v) => ({ shutdownGrace: v })],
  ['access.clientIdleTimeout', (v) => ({ access: { clientIdleTimeout: v } })],
  ['admin.sessionTtl', (v) => ({ admin: { sessionTtl: v } })],
  ['upstreams[0].tagTtl', (v) => ({ upstreams: [{ ...up, tagTtl: v }] })],
  ['upstreams[0].retries.maxDelay', (v) => ({ upstreams: [{ ...up, retries: { maxDelay: v } }] })],
  ['upstreams[0].retries.minDelay', (v) => ({ upstreams: [{ ...up, retries: { minDelay: v, maxDelay: v } }] })],
  ['upstreams[0].circuit.openFor', (v) => ({ upstreams: [{ ...up, circuit: { openFor: v } }] })],
];

describe('durations in the config have maxima', () => {
  it('fillIdleTimeout: 25d (past the timer maximum) is refused with a clear message', () => {
    const problems = problemsOf({ cache: { fillIdleTimeout: '25d' } });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0]!, /^cache\.fillIdleTimeout: .*at most 1h.*25d/);
  });

  for (const [path, set] of durations) {
    it(`${path}: 25d is refused, naming the key`, () => {
      const problems = problemsOf(set('25d'));
      assert.ok(problems.some((p) => p.startsWith(`${path}: `) && /at most/.test(p)), problems.join('\n'));
    });
    it(`${path}: a number of seconds past the timer maximum is refused too`, () => {
      const problems = problemsOf(set(String(timerMaxMs)));
      assert.ok(problems.some((p) => p.startsWith(`${path}: `)), problems.join('\n'));
    });
  }

  it('every default and every maximum fits a Node timer', () => {
    const defaults = validateConfig({ upstreams: [up] });
    const values = [
      defaults.cache.fillIdleTimeout,
      ...Object.values(defaults.timeouts),
      defaults.tls.helloTimeout,
      defaults.shutdownGrace,
      defaults.access.clientIdleTimeout,
      defaults.admin.sessionTtl,
    ];
    for (const v of values) assert.ok(v > 0 && v <= timerMaxMs, String(v));
    // The largest accepted value of each key is accepted and within the timer's range.
    for (const [path, set] of durations) {
      let accepted: number | undefined;
      for (const candidate of ['24d', '30d', '1d', '1h', '5m']) {
        try {
          validateConfig(set(candidate));
          accepted = Number(candidate.slice(0, -1)) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[candidate.slice(-1) as 'd' | 'h' | 'm'];
          break;
        } catch {
          // too long for this key: try a shorter one
        }
      }
      assert.ok(accepted !== undefined && accepted <= timerMaxMs, `${path} accepts some sensible duration`);
    }
  });

  it('sensible values are still accepted', () => {
    const c = validateConfig({ cache: { fillIdleTimeout: '10m' }, timeouts: { headers: '5m' }, access: { clientIdleTimeout: '1h' }, admin: { sessionTtl: '7d' }, upstreams: [{ ...up, tagTtl: '1d' }] });
    assert.equal(c.cache.fillIdleTimeout, 600_000);
    assert.equal(c.admin.sessionTtl, 7 * 86_400_000);
    assert.equal(c.upstreams?.[0]?.tagTtl, 86_400_000);
  });
});
