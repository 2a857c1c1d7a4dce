import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { maxClientHelloBytes, parseClientHello, type ClientHelloResult } from '../../../src/server/client-hello.js';
import { buildClientHello, captureClientHello, clientHelloMessage, inRecords, sniExtension } from '../../support/tls-hello.js';

const hello = (r: ClientHelloResult): { sni: string | undefined; alpn: string[]; bytes: number } => {
  assert.equal(r.kind, 'hello', JSON.stringify(r));
  return r as { kind: 'hello'; sni: string | undefined; alpn: string[]; bytes: number };
};
const reason = (r: ClientHelloResult): string => {
  assert.equal(r.kind, 'invalid', JSON.stringify(r));
  return (r as { reason: string }).reason;
};

describe('parseClientHello on real clients', () => {
  it('reads the server name and ALPN list that Node\'s TLS client sends', async () => {
    const bytes = await captureClientHello({ servername: 'Registry.Secure.Test', alpn: ['h2', 'http/1.1'] });
    assert.deepEqual(parseClientHello(bytes), { kind: 'hello', sni: 'registry.secure.test', alpn: ['h2', 'http/1.1'], bytes: bytes.length });
  });

  it('a client that connects by IP address sends no server name', async () => {
    const r = hello(parseClientHello(await captureClientHello({})));
    assert.equal(r.sni, undefined);
    assert.deepEqual(r.alpn, []);
  });

  it('every strict prefix of a real hello is incomplete, never an error, and asks for more than it has', async () => {
    const bytes = await captureClientHello({ servername: 'a.test', alpn: ['h2'] });
    for (let n = 0; n < bytes.length; n++) {
      const r = parseClientHello(bytes.subarray(0, n));
      assert.equal(r.kind, 'incomplete', `prefix ${n}`);
      assert.ok(r.kind === 'incomplete' && r.needed > n && r.needed <= bytes.length, `prefix ${n}: ${JSON.stringify(r)}`);
    }
  });

  it('bytes after the hello (a pipelined early write) are left alone', async () => {
    const bytes = await captureClientHello({ servername: 'a.test' });
    const r = hello(parseClientHello(Buffer.concat([bytes, Buffer.from('\x17\x03\x03\x00\x05hello')])));
    assert.equal(r.bytes, bytes.length);
  });
});

describe('parseClientHello on hand-built hellos', () => {
  it('a hello split into hundreds of two-byte records still yields its name', () => {
    // Padding (extension 21, RFC 7685) to the size of a real hello.
    const bytes = buildClientHello({ sni: 'split.test', alpn: ['http/1.1'], extra: [[21, Buffer.alloc(600)]] }, 2);
    assert.ok(bytes.length / 7 > 300);
    assert.deepEqual(parseClientHello(bytes), { kind: 'hello', sni: 'split.test', alpn: ['http/1.1'], bytes: bytes.length });
  });

  it('a hello in more than 512 records is refused', () => {
    const bytes = buildClientHello({ sni: 'split.test', extra: [[21, Buffer.alloc(600)]] }, 1);
    assert.equal(reason(parseClientHello(bytes)), 'ClientHello in too many records');
  });

  it('a hello without extensions names no server', () => {
    assert.equal(hello(parseClientHello(buildClientHello({ noExtensions: true }))).sni, undefined);
  });

  it('unknown extensions are skipped', () => {
    const r = hello(parseClientHello(buildClientHello({ sni: 'x.test', extra: [[0xfe0d, randomBytes(300)], [0x002b, Buffer.from([2, 3, 4])]] })));
    assert.equal(r.sni, 'x.test');
  });

  it('a hello right at the size limit parses; one byte more is too large', () => {
    const base = clientHelloMessage({ sni: 'big.test', extra: [[0x0015, Buffer.alloc(0)]] }).length;
    const records = (pad: number): Buffer => buildClientHello({ sni: 'big.test', extra: [[0x0015, Buffer.alloc(pad)]] }, 1000);
    // Records of 1000 bytes: the 5-byte record headers count against the limit too.
    const limit = 8000;
    let pad = 0;
    while (records(pad + 1).length <= limit) pad++;
    assert.ok(base + pad > 6000);
    assert.equal(hello(parseClientHello(records(pad), limit)).sni, 'big.test');
    assert.equal(reason(parseClientHello(records(pad + 1), limit)), 'ClientHello too large');
  });

  const refused: Array<[string, Buffer, RegExp]> = [
    ['an HTTP request is not a TLS record', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /not a TLS handshake record/],
    ['an SSL 2.0 hello is refused', Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15]), /not a TLS handshake record/],
    ['a record of another version is refused', Buffer.from([0x16, 0x04, 0x01, 0x00, 0x10]), /unsupported record version/],
    ['an empty handshake record is refused', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), /bad record length/],
    ['a record longer than 2^14 is refused', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]), /bad record length/],
    ['a handshake that is not a ClientHello is refused', inRecords(Buffer.from([2, 0, 0, 1, 0])), /not a ClientHello/],
    ['a handshake length beyond the limit is refused at once', inRecords(Buffer.from([1, 0xff, 0xff, 0xff])), /too large/],
    ['an alert record in the middle of the hello is refused', Buffer.concat([buildClientHello({ sni: 'a.test' }, 10).subarray(0, 15), Buffer.from([0x15, 3, 3, 0, 2, 2, 40])]), /non-handshake record/],
    ['a session id longer than 32 bytes is refused', buildClientHello({ sni: 'a.test', sessionIdLength: 33 }), /session id/],
    ['a duplicate extension is refused', buildClientHello({ sni: 'a.test', extra: [[0, sniExtension('b.test').subarray(4)]] }), /duplicate extension/],
    ['a server name with a space is refused', buildClientHello({ sni: 'a b.test' }), /not a host name/],
    ['a server name with a trailing dot is refused', buildClientHello({ sni: 'a.test.' }), /not a host name/],
    ['an empty server name is refused', buildClientHello({ sni: '' }), /not a host name/],
    ['an empty ALPN protocol is refused', buildClientHello({ sni: 'a.test', alpn: ['h2', ''] }), /ALPN/],
  ];
  for (const [name, bytes, expected] of refused) it(name, () => assert.match(reason(parseClientHello(bytes)), expected));

  it('a server_name extension whose inner length overruns it is refused', () => {
    const ext = Buffer.from([0, 0, 0, 6, 0, 4, 0, 0, 0x20, 0x41]);
    assert.match(reason(parseClientHello(inRecords(withExtensions(ext)))), /server_name/);
  });

  it('an extensions block whose length overruns the hello is refused', () => {
    const message = clientHelloMessage({ sni: 'a.test' });
    // The extensions length sits right after compression methods: 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2 bytes in.
    const at = 4 + 2 + 32 + 1 + 32 + 2 + 4 + 2;
    message.writeUInt16BE(message.readUInt16BE(at) + 1, at);
    assert.match(reason(parseClientHello(inRecords(message))), /extensions length|truncated/);
  });
});

/** A hello whose only extension block is `raw` (already framed as type, length, data). */
function withExtensions(raw: Buffer): Buffer {
  const base = clientHelloMessage({ noExtensions: true });
  const body = Buffer.concat([base.subarray(4), Buffer.from([raw.length >> 8, raw.length & 0xff]), raw]);
  return Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
}

describe('parseClientHello never throws', () => {
  it('on 20,000 random buffers, most starting like a handshake record', () => {
    for (let i = 0; i < 20_000; i++) {
      const b = randomBytes(1 + (i % 700));
      if (i % 2 === 0) b[0] = 0x16;
      if (i % 4 === 0 && b.length > 2) b[1] = 3;
      const r = parseClientHello(b);
      assert.ok(['incomplete', 'invalid', 'hello'].includes(r.kind));
    }
  });

  it('on 20,000 mutations of a real hello (bytes flipped, cut, records re-split)', async () => {
    const real = await captureClientHello({ servername: 'fuzz.test', alpn: ['h2', 'http/1.1'] });
    const message = real.subarray(5);
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(i % 3 === 0 ? inRecords(message, 1 + (i % 64)) : real);
      for (let k = 0; k < 1 + (i % 4); k++) b[(i * 7919 + k * 104729) % b.length] = (i * 31 + k) & 0xff;
      const cut = i % 5 === 0 ? b.subarray(0, (i * 13) % b.length) : b;
      const r = parseClientHello(cut);
      assert.ok(['incomplete', 'invalid', 'hello'].includes(r.kind));
    }
  });

  it('on a flood of tiny records it stops at the size limit', () => {
    const flood = inRecords(Buffer.concat([Buffer.from([1, 0, 0xff, 0xff]), Buffer.alloc(0xffff)]), 1);
    assert.match(reason(parseClientHello(flood)), /too large/);
    assert.ok(flood.length > maxClientHelloBytes);
  });
});
