import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';

const up = (name: string, registry: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  registry,
  url: `https://${registry}`,
  ...extra,
});


describe('validateConfig defaults', () => {
  it('an empty config gets every default', () => {
    assert.deepEqual(validateConfig({}), {
      listen: { http: ':5000', admin: '127.0.0.1:5001' },
      tls: { certificates: [], passthrough: [], unknownSni: 'default', helloTimeout: 10_000 },
      dataDir: './data',
      log: { level: 'info' },
      timeouts: { connect: 15_000, headers: 60_000, idle: 60_000, keepAlive: 120_000 },
      cache: { maxSize: 20 * 2 ** 30, lowWater: 0.9, pins: [], fillIdleTimeout: 60_000, storage: { type: 'disk' } },
      access: { allow: [], deny: [], login: 'off', trustedProxies: [], users: [], limits: {}, clientIdleTimeout: 300_000 },
      admin: { sessionTtl: 12 * 3_600_000, hosts: [] },
      shutdownGrace: 30_000,
      workers: 1,
    });
  });

  it('cache sizes are read as bytes or with SI and binary units', () => {
    assert.equal(validateConfig({ cache: { maxSize: '512MiB' } }).cache.maxSize, 512 * 2 ** 20);
    assert.equal(validateConfig({ cache: { maxSize: '20GB' } }).cache.maxSize, 20e9);
    assert.equal(validateConfig({ cache: { maxSize: 1024 } }).cache.maxSize, 1024);
    assert.throws(() => validateConfig({ cache: { maxSize: 'lots' } }), /cache\.maxSize: not a size/);
    assert.throws(() => validateConfig({ cache: { lowWater: 1.5 } }), /cache\.lowWater/);
  });

  it('an empty config has no upstreams of its own', () => assert.equal(validateConfig({}).upstreams, undefined));

  it('an upstream gets its defaults', () => {
    assert.deepEqual(validateConfig({ upstreams: [up('gcr', 'gcr.io')] }).upstreams, [
      {
        name: 'gcr',
        registry: 'gcr.io',
        url: 'https://gcr.io',
        hosts: [],
        default: false,
        auth: { mode: 'mirror' },
        insecureSkipVerify: false,
        tagTtl: 300_000,
        offline: false,
        mirrors: [],
        watch: [],
        quota: { reserve: 20 },
        allowPrivateRedirects: false,
        directReads: true,
        retries: { attempts: 3, minDelay: 200, maxDelay: 2000 },
        circuit: { failures: 5, openFor: 30_000 },
        segments: { connections: 1, maxConnections: 16, size: 8 * 2 ** 20, threshold: 32 * 2 ** 20, resumes: 5, stallTimeout: 15_000 },
      },
    ]);
  });

  it('direct reads of blob bodies can be turned off per upstream', () => {
    const [u] = validateConfig({ upstreams: [up('hub', 'docker.io', { directReads: false })] }).upstreams ?? [];
    assert.equal(u?.directReads, false);
    assert.throws(() => validateConfig({ upstreams: [up('hub', 'docker.io', { directReads: 'no' })] }), /directReads/);
  });

  it('segment settings take sizes and durations with units', () => {
    const [u] = validateConfig({ upstreams: [up('hub', 'docker.io', { segments: { connections: 8, size: '4MiB', threshold: '1GB', stallTimeout: '1m' } })] }).upstreams ?? [];
    assert.deepEqual(u?.segments, { connections: 8, maxConnections: 16, size: 4 * 2 ** 20, threshold: 1e9, resumes: 5, stallTimeout: 60_000 });
  });

  it('durations are read as seconds or with units', () => {
    const c = validateConfig({ timeouts: { connect: '5s', headers: 30, idle: '1m' }, upstreams: [up('gcr', 'gcr.io', { tagTtl: '1h30m' })] });
    assert.deepEqual(c.timeouts, { connect: 5_000, headers: 30_000, idle: 60_000, keepAlive: 120_000 });
    assert.equal(c.upstreams?.[0]?.tagTtl, 5_400_000);
  });

  it('an explicit listen section replaces the default one', () => {
    assert.deepEqual(validateConfig({ listen: { admin: '127.0.0.1:5001' } }).listen, { admin: '127.0.0.1:5001' });
  });

  const accepted: [string, unknown][] = [
    ['a bare port is a listen address', { listen: { http: '5000' } }],
    ['an IPv6 listen address is accepted', { listen: { http: '[::1]:5000' } }],
    ['https with a certificate is accepted', { listen: { https: ':5443' }, tls: { certificates: [{ cert: 'c.pem', key: 'k.pem' }] } }],
    ['an upstream with a port in its registry is accepted', { upstreams: [up('corp', 'registry.corp.test:5000')] }],
    ['an http upstream URL is accepted', { upstreams: [up('local', 'localhost:5000', { url: 'http://localhost:5000' })] }],
    ['mirror mode with a username and password is accepted',
      { upstreams: [up('hub', 'docker.io', { auth: { username: 'robot', password: 'secret' } })] }],
    ['mirror mode with a username alone is accepted', { upstreams: [up('hub', 'docker.io', { auth: { username: 'robot' } })] }],
    ['passthrough mode without credentials is accepted', { upstreams: [up('gcr', 'gcr.io', { auth: { mode: 'passthrough' } })] }],
    ['an empty per-upstream proxy forces a direct connection', { proxy: 'http://proxy.test:3128', upstreams: [up('gcr', 'gcr.io', { proxy: '' })] }],
    ['one default upstream is accepted', { upstreams: [up('hub', 'docker.io', { default: true }), up('gcr', 'gcr.io')] }],
    ['an empty upstream list is accepted', { upstreams: [] }],
  ];
  for (const [name, raw] of accepted) it(name, () => assert.doesNotThrow(() => validateConfig(raw)));
});

describe('validateConfig problems', () => {
  const table: [string, unknown, string[]][] = [
    ['an unknown top-level key is refused', { bogus: 1 }, ['(root): Unrecognized key: "bogus"']],
    ['an unknown upstream key is refused with its index', { upstreams: [up('gcr', 'gcr.io', { foo: 1 })] },
      ['upstreams[0]: Unrecognized key: "foo"']],
    ['an unknown key in a later upstream names that upstream', { upstreams: [up('hub', 'docker.io'), up('gcr', 'gcr.io', { fallbacks: [] })] },
      ['upstreams[1]: Unrecognized key: "fallbacks"']],
    ['a mirror URL must be http(s)', { upstreams: [up('hub', 'docker.io', { mirrors: ['ftp://mirror.test'] })] },
      ['upstreams[0].mirrors[0]: expected an http:// or https:// URL']],
    ['mirrors are refused in passthrough mode', { upstreams: [up('hub', 'docker.io', { mirrors: ['https://mirror.test'], auth: { mode: 'passthrough' } })] },
      ['upstreams[0].mirrors: mirrors need auth mode mirror: client credentials belong to the origin only']],
    ['a retry minDelay above maxDelay is refused', { upstreams: [up('hub', 'docker.io', { retries: { minDelay: '5s', maxDelay: '1s' } })] },
      ['upstreams[0].retries.minDelay: minDelay must not exceed maxDelay']],
    ['a segment is at least 64KiB', { upstreams: [up('hub', 'docker.io', { segments: { size: '1KiB' } })] },
      ['upstreams[0].segments.size: size must be at least 64KiB']],
    ['segment connections are at least one', { upstreams: [up('hub', 'docker.io', { segments: { connections: 0 } })] },
      ['upstreams[0].segments.connections: Too small: expected number to be >=1']],
    ['a circuit needs at least one failure to open', { upstreams: [up('hub', 'docker.io', { circuit: { failures: 0 } })] },
      ['upstreams[0].circuit.failures: Too small: expected number to be >=1']],
    ['an unknown listen key is refused', { listen: { grpc: ':9000' } }, ['listen: Unrecognized key: "grpc"']],
    ['an unknown auth key is refused', { upstreams: [up('gcr', 'gcr.io', { auth: { token: 'x' } })] },
      ['upstreams[0].auth: Unrecognized key: "token"']],
    ['an unknown certificate key is refused', { tls: { certificates: [{ cert: 'c', key: 'k', chain: 'x' }] } },
      ['tls.certificates[0]: Unrecognized key: "chain"']],
    ['an upper-case upstream name is refused', { upstreams: [up('Hub', 'docker.io')] },
      ['upstreams[0].name: lower-case letters, digits, - and _']],
    ['a registry given as a URL is refused', { upstreams: [up('gcr', 'gcr.io', { registry: 'https://gcr.io' })] },
      ['upstreams[0].registry: expected a registry host such as gcr.io or host:port']],
    ['a non-http upstream URL is refused', { upstreams: [up('gcr', 'gcr.io', { url: 'ftp://gcr.io' })] },
      ['upstreams[0].url: expected an http:// or https:// URL']],
    ['a mapped host with a port is refused', { upstreams: [up('gcr', 'gcr.io', { hosts: ['ok.test', 'gcr.mirror.test:5443'] })] },
      ['upstreams[0].hosts[1]: expected a hostname']],
    ['duplicate upstream names are refused', { upstreams: [up('a', 'docker.io'), up('a', 'gcr.io')] },
      ['upstreams[1].name: duplicate name a']],
    ['duplicate registries are refused', { upstreams: [up('a', 'gcr.io'), up('b', 'gcr.io')] },
      ['upstreams[1].registry: duplicate registry gcr.io']],
    ['a host mapped to two upstreams is refused',
      { upstreams: [up('a', 'docker.io', { hosts: ['m.test'] }), up('b', 'gcr.io', { hosts: ['x.test', 'm.test'] })] },
      ['upstreams[1].hosts[1]: host m.test is mapped twice']],
    ['two default upstreams are refused', { upstreams: [up('a', 'docker.io', { default: true }), up('b', 'gcr.io', { default: true })] },
      ['upstreams: at most one upstream may be the default']],
    ['https without certificates is refused', { listen: { https: ':5443' } },
      ['tls.certificates: listen.https needs at least one certificate']],
    ['passthrough mode with a username is refused', { upstreams: [up('gcr', 'gcr.io', { auth: { mode: 'passthrough', username: 'u' } })] },
      ["upstreams[0].auth: passthrough mode uses the client's own credentials; remove username/password"]],
    ['a password without a username is refused', { upstreams: [up('gcr', 'gcr.io', { auth: { password: 'p' } })] },
      ['upstreams[0].auth: a password needs a username']],
    ['a password and a password file together are refused',
      { upstreams: [up('gcr', 'gcr.io', { auth: { username: 'u', password: 'p', passwordFile: 'f' } })] },
      ['upstreams[0].auth: set password or passwordFile, not both']],
    ['an unknown auth mode is refused', { upstreams: [up('gcr', 'gcr.io', { auth: { mode: 'proxy' } })] },
      ['upstreams[0].auth.mode: Invalid option: expected one of "mirror"|"passthrough"']],
    ['a malformed listen address is refused', { listen: { http: 'localhost' } }, ['listen.http: expected host:port, :port or port']],
    ['a malformed duration is refused', { timeouts: { connect: 'soon' } },
      ['timeouts.connect: not a duration: soon (use e.g. "30s", "5m", "1h")']],
    ['a malformed tag TTL is refused', { upstreams: [up('gcr', 'gcr.io', { tagTtl: -5 })] },
      ['upstreams[0].tagTtl: not a duration: -5 (use e.g. "30s", "5m", "1h")']],
    ['a socks proxy is refused', { proxy: 'socks5://proxy.test:1080' }, ['proxy: expected an http:// or https:// proxy URL']],
    ['an empty data directory is refused', { dataDir: '' }, ['dataDir: Too small: expected string to have >=1 characters']],
  ];
  for (const [name, raw, expected] of table) it(name, () => assert.deepEqual(problemsOf(raw), expected));

  it('an unknown log level is refused with its path', () => {
    const problems = problemsOf({ log: { level: 'loud' } });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^log\.level: /);
  });

  it('every problem is reported at once', () => {
    const problems = problemsOf({ bogus: 1, listen: { https: ':5443' }, upstreams: [up('Hub', 'docker.io'), up('b', 'docker.io')] });
    assert.deepEqual(problems.sort(), [
      '(root): Unrecognized key: "bogus"',
      'tls.certificates: listen.https needs at least one certificate',
      'upstreams[0].name: lower-case letters, digits, - and _',
      'upstreams[1].registry: duplicate registry docker.io',
    ].sort());
  });

  it('a ConfigError lists its problems in its message', () => {
    assert.throws(() => validateConfig({ upstreams: [up('a', 'gcr.io'), up('a', 'quay.io')] }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.message, 'invalid configuration:\n  upstreams[1].name: duplicate name a');
      return true;
    });
  });

  // The router folds Docker Hub's aliases onto docker.io (router.ts canonicalRegistry), so a second upstream naming an
  // alias would silently replace the first in the router's map.
  it('two upstreams naming Docker Hub by different aliases are refused', () => {
    const problems = problemsOf({ upstreams: [up('hub', 'docker.io'), up('hub2', 'index.docker.io')] });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^upstreams\[1\]\.registry: /);
  });

  it('a listen port above 65535 is refused', () => {
    assert.deepEqual(problemsOf({ listen: { http: ':70000' } }), ['listen.http: expected host:port, :port or port']);
  });
});
