// The replicas' internal endpoint under arbitrary input: no header authenticates without a valid signature (for
// this replica, this request, recently, once), and arbitrary request targets and headers, signed or not, get a 4xx
// JSON answer over a real socket, never a 5xx or a dead endpoint.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { PeerAuth, peerAuthHeader } from '../../../src/cluster/peer-auth.js';
import { PeerServer } from '../../../src/cluster/peer-server.js';
import { anyString, digest, nearGrammar, propertyOptions } from '../../support/grammar-arbitraries.js';

const secret = 'k'.repeat(64);
const self = 'http://10.0.0.5:5002';
const hex = (n: number) => fc.array(fc.constantFrom(...'0123456789abcdef'.split('')), { minLength: n, maxLength: n }).map((a) => a.join(''));
const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'get');
const fillPath = fc.oneof(
  digest.map((d) => `/fills/${d}`),
  nearGrammar.map((s) => `/fills/${s}`),
  nearGrammar.map((s) => `/${s}`),
  anyString,
);
/** Headers shaped like signatures (right form, wrong values) and anything at all. */
const header = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 2 ** 45 }), hex(32), hex(64)).map(([at, nonce, mac]) => `${at}.${nonce}.${mac}`),
  fc.tuple(fc.integer({ min: 0, max: 2 ** 45 }), hex(64)).map(([at, mac]) => `${at}.${mac}`),
  anyString,
  fc.constant(undefined),
);

describe('peer signatures under arbitrary input', () => {
  const now = 1_800_000_000_000;
  it('no arbitrary header authenticates any request', () => {
    const auth = new PeerAuth(secret, self, () => now);
    fc.assert(
      fc.property(method, fillPath, header, (m, path, h) => {
        assert.equal(auth.verify(m, path, h), false);
      }),
      propertyOptions(3000),
    );
  });

  it('a valid signature altered in any way, or used for another request, replica or time, authenticates nothing', () => {
    const signer = new PeerAuth(secret, 'http://10.0.0.6:5002', () => now);
    const variant = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(200), to: fc.constantFrom(...'0123456789abcdef.x'.split('')) }),
      fc.record({ kind: fc.constant('path' as const), path: fillPath }),
      fc.record({ kind: fc.constant('method' as const), method }),
      fc.record({ kind: fc.constant('target' as const), target: fc.constantFrom('http://10.0.0.6:5002', 'http://10.0.0.5:5003', 'https://10.0.0.5:5002', 'http://10.0.0.50:5002') }),
      fc.record({ kind: fc.constant('age' as const), skew: fc.oneof(fc.integer({ min: 10_001, max: 10 ** 9 }), fc.integer({ min: -(10 ** 9), max: -10_001 })) }),
    );
    fc.assert(
      fc.property(digest, variant, (d, v) => {
        const verifier = new PeerAuth(secret, self, () => now);
        const path = `/fills/${d}`;
        let m = 'GET';
        let p = path;
        let h = signer.sign('GET', path, self);
        if (v.kind === 'byte') {
          const i = v.at % h.length;
          if (h[i] === v.to) return;
          h = h.slice(0, i) + v.to + h.slice(i + 1);
        } else if (v.kind === 'path') {
          if (v.path === path) return;
          p = v.path;
        } else if (v.kind === 'method') {
          if (v.method === 'GET') return;
          m = v.method;
        } else if (v.kind === 'target') {
          h = signer.sign('GET', path, v.target);
        } else {
          h = new PeerAuth(secret, self, () => now + v.skew).sign('GET', path, self);
        }
        assert.equal(verifier.verify(m, p, h), false);
        assert.equal(verifier.verify('GET', path, signer.sign('GET', path, self)), true, 'the unaltered request passes');
      }),
      propertyOptions(3000),
    );
  });
});

/** One raw request on a fresh connection: the status of the answer, or 0 when the connection closed without one. */
function exchange(port: number, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(head, 'latin1')));
    let raw = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1] ?? 0);
      resolve({ status, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
  });
}

/** Request-target bytes a client could put on the wire (no spaces or line breaks, which end the request line). */
const onTheWire = (s: string) => Buffer.from(s, 'utf8').toString('latin1').replace(/[\s\u0000-\u001f\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);

describe('the internal endpoint under arbitrary requests', () => {
  let server: PeerServer;
  let port = 0;
  let target = '';
  let signer: PeerAuth;
  let errors = 0;
  before(async () => {
    let auth: PeerAuth | undefined;
    const log = pino({ level: 'error' }, { write: () => void errors++ });
    server = new PeerServer({ fills: { get: () => undefined }, auth: { verify: (...a) => auth!.verify(...a) } as PeerAuth, log });
    port = (await server.listen('127.0.0.1:0')).port;
    target = `http://127.0.0.1:${port}`;
    auth = new PeerAuth(secret, target);
    signer = new PeerAuth(secret, 'http://signer.invalid');
  });
  after(() => server.close());

  const expectRefusal = (status: number, body: string, m: string) => {
    assert.ok([400, 401, 404].includes(status), `answered ${status}`);
    if (m !== 'HEAD' && status !== 400) assert.match(body, /^\{"errors":\[\{"code":"(PEER_UNAUTHORIZED|PEER_NOT_FOUND|PEER_BAD_REQUEST|FILL_NOT_RUNNING)"/);
  };

  it('arbitrary targets and signature headers get 400, 401 or 404, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(method, fillPath, header, async (m, path, h) => {
        const line = `${m} ${onTheWire(path) || '/'} HTTP/1.1\r\nHost: peer\r\n${h === undefined ? '' : `${peerAuthHeader}: ${onTheWire(h)}\r\n`}Connection: close\r\n\r\n`;
        const r = await exchange(port, line);
        expectRefusal(r.status, r.body, m);
        if (r.status !== 400) assert.equal(r.status, 401, 'nothing gets past the signature check unsigned');
      }),
      propertyOptions(300),
    );
  });

  it('arbitrary targets correctly signed for this replica get 400 or 404, never a 5xx, and never end the endpoint', async () => {
    await fc.assert(
      fc.asyncProperty(method, fillPath, async (m, path) => {
        const wire = onTheWire(path) || '/';
        const signed = wire.split('?')[0] ?? '';
        const r = await exchange(port, `${m} ${wire} HTTP/1.1\r\nHost: peer\r\n${peerAuthHeader}: ${signer.sign(m, signed, target)}\r\nConnection: close\r\n\r\n`);
        expectRefusal(r.status, r.body, m);
      }),
      propertyOptions(300),
    );
    const d = `sha256:${'c'.repeat(64)}`;
    const r = await exchange(port, `GET /fills/${d} HTTP/1.1\r\nHost: peer\r\n${peerAuthHeader}: ${signer.sign('GET', `/fills/${d}`, target)}\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 404, 'still answering');
    assert.equal(errors, 0, 'no request failed unexpectedly');
  });
});
