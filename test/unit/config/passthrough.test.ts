import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';
import { parseBackend } from '../../../src/config/passthrough.js';

const https = { listen: { https: ':5443' }, tls: { certificates: [{ cert: 'c.pem', key: 'k.pem' }] } };
const withRoutes = (passthrough: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...https,
  ...extra,
  tls: { ...https.tls, passthrough, ...(extra.tls as Record<string, unknown> | undefined) },
});


describe('tls.passthrough in the config', () => {
  it('routes by name, wildcard and backend host name are accepted as written', () => {
    const routes = [
      { sni: 'registry.secure.test', to: '10.0.0.5:443' },
      { sni: '*.secure.test', to: 'backend.internal:8443' },
      { sni: 'v6.secure.test', to: '[fd00::5]:443' },
    ];
    assert.deepEqual(validateConfig(withRoutes(routes)).tls.passthrough, routes);
  });

  it('unknownSni and helloTimeout are read', () => {
    const c = validateConfig(withRoutes([], { tls: { unknownSni: 'refuse', helloTimeout: '2s' } }));
    assert.equal(c.tls.unknownSni, 'refuse');
    assert.equal(c.tls.helloTimeout, 2_000);
  });

  const table: [string, unknown, string[]][] = [
    ['a backend without a port is refused', withRoutes([{ sni: 'a.test', to: '10.0.0.5' }]),
      ['tls.passthrough[0].to: expected host:port, ipv4:port or [ipv6]:port with a port from 1 to 65535']],
    ['a backend given as a URL is refused', withRoutes([{ sni: 'a.test', to: 'https://10.0.0.5:443' }]),
      ['tls.passthrough[0].to: expected host:port, ipv4:port or [ipv6]:port with a port from 1 to 65535']],
    ['port 0 is refused', withRoutes([{ sni: 'a.test', to: '10.0.0.5:0' }]),
      ['tls.passthrough[0].to: expected host:port, ipv4:port or [ipv6]:port with a port from 1 to 65535']],
    ['an upper-case name is refused', withRoutes([{ sni: 'A.test', to: '10.0.0.5:443' }]),
      ['tls.passthrough[0].sni: expected a lower-case host name or *.domain']],
    ['a wildcard inside a name is refused', withRoutes([{ sni: 'a.*.test', to: '10.0.0.5:443' }]),
      ['tls.passthrough[0].sni: expected a lower-case host name or *.domain']],
    ['a name routed twice is refused', withRoutes([{ sni: 'a.test', to: '10.0.0.5:443' }, { sni: 'a.test', to: '10.0.0.6:443' }]),
      ['tls.passthrough[1].sni: a.test is routed twice']],
    ['a name that is also an upstream\'s mirror host is refused',
      withRoutes([{ sni: 'gcr.mirror.test', to: '10.0.0.5:443' }], { upstreams: [{ name: 'gcr', registry: 'gcr.io', url: 'https://gcr.io', hosts: ['gcr.mirror.test'] }] }),
      ['tls.passthrough[0].sni: gcr.mirror.test is a mirror host of an upstream']],
    ['routes without an HTTPS listener are refused', { tls: { passthrough: [{ sni: 'a.test', to: '10.0.0.5:443' }] } },
      ['tls.passthrough: passthrough routes need listen.https']],
    ['an unknown unknownSni choice is refused', withRoutes([], { tls: { unknownSni: 'drop' } }),
      ['tls.unknownSni: Invalid option: expected one of "default"|"refuse"']],
    ['an unknown route key is refused', withRoutes([{ sni: 'a.test', to: '10.0.0.5:443', alpn: 'h2' }]),
      ['tls.passthrough[0]: Unrecognized key: "alpn"']],
  ];
  for (const [name, raw, expected] of table) it(name, () => assert.deepEqual(problemsOf(raw), expected));
});

describe('parseBackend', () => {
  const table: [string, { host: string; port: number } | undefined][] = [
    ['10.0.0.5:443', { host: '10.0.0.5', port: 443 }],
    ['Backend.Internal:8443', { host: 'backend.internal', port: 8443 }],
    ['[::1]:443', { host: '::1', port: 443 }],
    ['[10.0.0.5]:443', undefined],
    ['::1:443', undefined],
    ['host:65536', undefined],
    ['host:', undefined],
    ['bad_host:443', undefined],
  ];
  for (const [input, expected] of table) it(`${input} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(parseBackend(input), expected));
});
