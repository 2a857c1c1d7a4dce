import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { MirrorNames, type MirrorNamesOptions } from '../../../src/server/mirror-names.js';

function fakeRequest(host: string | undefined, localAddress = '10.1.2.3', localPort = 5443): IncomingMessage {
  const req = { httpVersion: '1.1', headers: host ? { host } : {}, url: '/v2/', headersDistinct: { host: host ? [host] : undefined }, socket: { localAddress, localPort } };
  return req as unknown as IncomingMessage;
}

const names = (o: Partial<MirrorNamesOptions> = {}): MirrorNames => new MirrorNames({ upstreamHosts: () => ['gcr.mirror.test', 'pass.mirror.test'], ...o });

describe('the origin token realms name', () => {
  it('publicUrl, whatever the request says', () => {
    const n = names({ publicUrl: 'https://registry.example.com/' });
    for (const host of ['gcr.mirror.test', 'evil.example', undefined]) assert.equal(n.realmOrigin(fakeRequest(host), 'https'), 'https://registry.example.com');
  });

  it('the request\'s own authority, port kept, when its host is a mapped hostname', () => {
    assert.equal(names().realmOrigin(fakeRequest('Pass.Mirror.Test:8443'), 'https'), 'https://pass.mirror.test:8443');
  });

  it('an ACME name, a certificate name (wildcards too) or the address the connection reached', () => {
    const certificates = { serves: (n: string) => n === 'mirror.example.org' || n.endsWith('.wild.example.org'), dnsNames: () => ['mirror.example.org'] };
    const n = names({ acmeHosts: ['acme.example.org'], certificates: certificates as unknown as MirrorNamesOptions['certificates'] });
    for (const host of ['acme.example.org', 'mirror.example.org', 'x.wild.example.org', '10.1.2.3:5443']) {
      assert.equal(n.realmOrigin(fakeRequest(host), 'https'), `https://${host}`);
    }
    assert.equal(n.realmOrigin(fakeRequest('localhost:5443', '127.0.0.1'), 'http'), 'http://localhost:5443');
    assert.equal(n.realmOrigin(fakeRequest('[::1]:5443', '::1'), 'http'), 'http://[::1]:5443');
  });

  it('an unknown host falls back to the first configured name and the listener\'s port, never to the host', () => {
    assert.equal(names({ acmeHosts: ['acme.example.org'] }).realmOrigin(fakeRequest('evil.example:5443'), 'https'), 'https://acme.example.org:5443');
    assert.equal(names().realmOrigin(fakeRequest('evil.example'), 'https'), 'https://gcr.mirror.test:5443');
    assert.equal(names().realmOrigin(fakeRequest(undefined, '10.1.2.3', 443), 'https'), 'https://gcr.mirror.test');
    // localhost is a name of this mirror only on a loopback connection; another address is not known.
    assert.equal(names().realmOrigin(fakeRequest('localhost', '10.1.2.3', 80), 'http'), 'http://gcr.mirror.test');
    assert.equal(names().realmOrigin(fakeRequest('10.9.9.9', '10.1.2.3', 80), 'http'), 'http://gcr.mirror.test');
  });

  it('with no configured name, the address the connection reached stands in', () => {
    const n = names({ upstreamHosts: () => [] });
    assert.equal(n.realmOrigin(fakeRequest('evil.example', '::ffff:192.0.2.5', 5000), 'http'), 'http://192.0.2.5:5000');
    assert.equal(n.realmOrigin(fakeRequest('evil.example', 'fd00::5', 443), 'https'), 'https://[fd00::5]');
  });
});
