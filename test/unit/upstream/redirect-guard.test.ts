import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRedirectHost, isPrivateAddress, isPrivateHost, privateRefusingLookup, PrivateRedirectError } from '../../../src/upstream/redirect-guard.js';

describe('isPrivateAddress', () => {
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['[::1]', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['8.8.8.8', false],
    ['2001:4860:4860::8888', false],
    ['registry.example.com', false],
    // IANA IPv4 and IPv6 Special-Purpose Address Registries: not globally reachable.
    ['192.0.0.8', true],
    ['192.0.2.1', true],
    ['192.88.99.1', true],
    ['198.51.100.7', true],
    ['203.0.113.9', true],
    ['224.0.0.1', true],
    ['239.255.255.250', true],
    ['240.0.0.1', true],
    ['255.255.255.255', true],
    ['::', true],
    ['::7f00:1', true],
    ['::8.8.8.8', true],
    ['100::1', true],
    ['2001::1', true],
    ['2001:db8::1', true],
    ['3fff::1', true],
    ['5f00::1', true],
    ['fec0::1', true],
    ['ff02::1', true],
    ['64:ff9b:1::1', true],
    // Addresses that carry an IPv4 address are judged by it: NAT64, IPv4-mapped in either spelling, 6to4.
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::169.254.169.254', true],
    ['64:ff9b::808:808', false],
    ['::ffff:7f00:1', true],
    ['[::ffff:a9fe:a9fe]', true],
    ['::ffff:0808:0808', false],
    ['2002:7f00:1::1', true],
    ['2002:808:808::1', false],
    ['0:0:0:0:0:ffff:10.1.2.3', true],
    ['1.1.1.1', false],
    ['2606:4700:4700::1111', false],
  ];
  for (const [address, expected] of cases) {
    it(`${address} is ${expected ? 'private' : 'public'}`, () => assert.equal(isPrivateAddress(address), expected));
  }
});

describe('redirect checks', () => {
  it('a literal private address is refused before anything is dialled', () => {
    assert.throws(() => checkRedirectHost('169.254.169.254'), PrivateRedirectError);
    assert.throws(() => checkRedirectHost('[::1]'), PrivateRedirectError);
    assert.doesNotThrow(() => checkRedirectHost('8.8.4.4'));
    assert.throws(() => checkRedirectHost('[::ffff:7f00:1]'), PrivateRedirectError);
  });

  it('the dial-time lookup refuses a name that resolves to loopback (localhost, through the real resolver)', async () => {
    const err = await new Promise<unknown>((resolve) => privateRefusingLookup('localhost', { all: true }, (e) => resolve(e)));
    assert.ok(err instanceof PrivateRedirectError, String(err));
    assert.match(err.message, /localhost.*private address/);
  });

  it('an upstream on localhost or a private literal is private itself; an unresolvable name counts as public', async () => {
    assert.equal(await isPrivateHost('localhost'), true);
    assert.equal(await isPrivateHost('127.0.0.1'), true);
    assert.equal(await isPrivateHost('8.8.4.4'), false);
    assert.equal(await isPrivateHost('registry.invalid'), false);
  });
});

describe('the dialer of a public upstream\'s redirects', () => {
  it('refuses, at connect time, a name that resolves to loopback (a real undici request to a real listener)', async () => {
    const { createServer } = await import('node:http');
    const { request } = await import('undici');
    const { UpstreamEndpoint } = await import('../../../src/upstream/upstream-endpoint.js');
    let reached = 0;
    const server = createServer((_req, res) => {
      reached++;
      res.end('internal');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const config = {
      name: 'hub',
      registry: 'docker.io',
      url: new URL('http://registry.invalid'),
      hosts: [],
      default: false,
      auth: { mode: 'mirror' as const },
      insecureSkipVerify: false,
      tagTtlMs: 300_000,
      offline: false,
      mirrors: [],
      allowPrivateRedirects: false,
      directReads: true,
      retries: { attempts: 1, minDelayMs: 1, maxDelayMs: 1 },
      circuit: { failures: 5, openForMs: 30_000 },
    };
    const endpoint = UpstreamEndpoint.create(config.url, 'origin', config, { connect: 1000, headers: 1000, idle: 1000 }, Date.now, () => undefined);
    try {
      const target = new URL(`http://localhost:${port}/secret`);
      const dispatcher = await endpoint.dispatcherFor(target);
      assert.notEqual(dispatcher, endpoint.dispatcher, 'a redirect from a public upstream gets the guarded dialer');
      const err = await request(target, { dispatcher }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof PrivateRedirectError || (err as { cause?: unknown }).cause instanceof PrivateRedirectError, String(err));
      assert.equal(reached, 0);
    } finally {
      await endpoint.close();
      server.close();
    }
  });
});
