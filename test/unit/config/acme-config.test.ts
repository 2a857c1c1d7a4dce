import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromObject, validateConfig } from '../../../src/config/load.js';
import { problemsOf } from './config-problems.js';
import { letsEncryptDirectory } from '../../../src/config/schema.js';

const upstreams = [{ name: 'hub', registry: 'docker.io', url: 'https://registry-1.docker.io', default: true, hosts: ['hub.mirror.test'] }];
const withAcme = (acme: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  listen: { https: ':5443' },
  tls: { acme: { email: 'ops@example.test', termsAgreed: true, ...acme } },
  upstreams,
  ...extra,
});


describe('tls.acme', () => {
  it('defaults to Let\'s Encrypt, HTTP-01 on port 80 and every mapped mirror hostname', async () => {
    const config = await configFromObject(withAcme({}), '/etc/pullgate');
    assert.deepEqual(config.tls.acme, {
      email: 'ops@example.test',
      directoryUrl: letsEncryptDirectory,
      hosts: ['hub.mirror.test'],
      challenge: 'http-01',
      httpListen: ':80',
    });
    assert.equal(letsEncryptDirectory, 'https://acme-v02.api.letsencrypt.org/directory');
  });

  it('takes its own hosts and resolves caBundle against the config file', async () => {
    const config = await configFromObject(withAcme({ hosts: ['a.test', 'b.test'], caBundle: 'pebble/ca.pem', httpListen: '127.0.0.1:8080' }), '/etc/pullgate');
    assert.deepEqual(config.tls.acme?.hosts, ['a.test', 'b.test']);
    assert.equal(config.tls.acme?.caBundle, '/etc/pullgate/pebble/ca.pem');
    assert.equal(config.tls.acme?.httpListen, '127.0.0.1:8080');
  });

  it('stands in for tls.certificates on the HTTPS listener', () => {
    assert.doesNotThrow(() => validateConfig(withAcme({})));
  });

  const table: Array<[string, unknown, string[]]> = [
    ['the terms of service must be agreed', withAcme({ termsAgreed: false }),
      ["tls.acme.termsAgreed: set termsAgreed: true to agree to the ACME CA's terms of service"]],
    ['an email address is required', withAcme({ email: 'ops' }), ['tls.acme.email: expected an email address']],
    ['the directory must be https', withAcme({ directoryUrl: 'http://ca.test/dir' }), ['tls.acme.directoryUrl: expected the https:// URL of an ACME directory']],
    ['an unsupported challenge is named', withAcme({ challenge: 'dns-01' }), ['tls.acme.challenge: expected http-01 or tls-alpn-01']],
    ['a malformed challenge listener is refused', withAcme({ httpListen: 'eighty' }), ['tls.acme.httpListen: expected host:port, :port or port']],
    ['a host must be a hostname', withAcme({ hosts: ['Bad Host'] }), ['tls.acme.hosts[0]: expected a hostname']],
    ['without hosts and without mapped hostnames there is nothing to certify',
      withAcme({}, { upstreams: [{ name: 'hub', registry: 'docker.io', url: 'https://registry-1.docker.io' }] }),
      ['tls.acme.hosts: name the hostnames, or map them in upstreams[].hosts']],
    ['ACME needs the HTTPS listener', withAcme({}, { listen: { http: ':5000' } }), ['tls.acme: tls.acme needs listen.https']],
  ];
  for (const [name, raw, expected] of table) it(name, () => assert.deepEqual(problemsOf(raw), expected));
});

describe('tls.acme next to the plain listener', () => {
  it('the challenge listener cannot share the HTTP listener\'s address', () => {
    assert.deepEqual(problemsOf(withAcme({ httpListen: ':80' }, { listen: { http: ':80', https: ':443' } })), ['tls.acme.httpListen: must differ from listen.http']);
  });

  it('with tls-alpn-01 no challenge listener is used, so the HTTP listener may keep port 80', () => {
    assert.doesNotThrow(() => validateConfig(withAcme({ challenge: 'tls-alpn-01' }, { listen: { http: ':80', https: ':443' } })));
  });
});
