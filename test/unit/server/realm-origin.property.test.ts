import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MirrorNames } from '../../../src/server/mirror-names.js';
import { parseAuthority, requestAuthority } from '../../../src/server/request-authority.js';
import { anyString, propertyOptions } from '../../support/grammar-arbitraries.js';

// Whatever a request names as its authority, a realm is on a name from the configuration or on the address the
// connection reached (docs/security.md, "Client and mirror").
const mapped = ['gcr.mirror.test', 'pass.mirror.test'];
const localAddress = '192.0.2.10';
const known = new Set([...mapped, localAddress]);
const names = new MirrorNames({ upstreamHosts: () => mapped });

const authorityLike = fc.oneof(
  anyString,
  fc.tuple(fc.constantFrom(...mapped, 'evil.example', localAddress, '[::1]', 'localhost', 'GCR.mirror.test'), fc.constantFrom('', ':5443', ':0', ':x', '@evil.example', '.', '..', '/x', ' '))
    .map(([h, tail]) => h + tail),
  fc.tuple(fc.constantFrom('evil.example@', 'user:pw@', 'x.'), fc.constantFrom(...mapped)).map(([a, b]) => a + b),
);

function request(version: '1.1' | '2.0', value: string): IncomingMessage {
  const headers = version === '2.0' ? { ':authority': value } : { host: value };
  const req = { httpVersion: version, headers, url: '/v2/', headersDistinct: { host: [value] }, socket: { localAddress, localPort: 5443 } };
  return req as unknown as IncomingMessage;
}

describe('realms under arbitrary authorities', () => {
  it('a realm names a known host, or the request is malformed; a well-formed authority is never refused', () => {
    fc.assert(
      fc.property(fc.constantFrom('1.1', '2.0') as fc.Arbitrary<'1.1' | '2.0'>, authorityLike, (version, value) => {
        const req = request(version, value);
        const { malformed } = requestAuthority(req);
        if (value !== '' && parseAuthority(value) === undefined) assert.ok(malformed, `accepted ${JSON.stringify(value)}`);
        if (malformed) return;
        const realm = new URL(names.realmOrigin(req, 'https'));
        assert.ok(known.has(realm.hostname), `realm on ${realm.hostname} for ${JSON.stringify(value)}`);
      }),
      propertyOptions(2000),
    );
  });
});
