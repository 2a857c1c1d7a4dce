// ClientHello bytes for tests: real ones captured from Node's TLS client, and hand-built ones whose every field a
// test can bend (RFC 8446 s4.1.2 layout), split into records of any size.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** The first flight of a real TLS client (OpenSSL via node:tls), as it reaches the wire. */
export async function captureClientHello(opts: { servername?: string; alpn?: string[] }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const received = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          const all = Buffer.concat(chunks);
          // The client sends its whole hello and then waits for the server: one record header tells its length.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            resolve(all);
            socket.destroy();
          }
        });
        socket.on('error', reject);
      });
    });
    const client = tlsConnect({
      host: '127.0.0.1',
      port,
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
      rejectUnauthorized: false,
    });
    client.on('error', () => undefined);
    const hello = await received;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

export interface HelloParts {
  sni?: string | undefined;
  alpn?: string[];
  /** Raw extensions appended after SNI and ALPN: [type, data]. */
  extra?: Array<[number, Buffer]>;
  sessionIdLength?: number;
  /** Leave out the extensions block entirely (an SSL 3.0 style hello). */
  noExtensions?: boolean;
}

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);
const vec8 = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length]), b]);
const extension = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), vec16(data)]);

export function sniExtension(name: string): Buffer {
  return extension(0, vec16(Buffer.concat([Buffer.from([0]), vec16(Buffer.from(name, 'latin1'))])));
}

export function alpnExtension(protocols: string[]): Buffer {
  return extension(16, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))));
}

/** The handshake message (type 1, 24-bit length, body), not yet in records. */
export function clientHelloMessage(p: HelloParts): Buffer {
  const sessionId = Buffer.alloc(p.sessionIdLength ?? 32, 7);
  const parts = [
    Buffer.from([3, 3]),
    Buffer.alloc(32, 1),
    vec8(sessionId),
    vec16(Buffer.from([0x13, 0x01, 0x13, 0x02])),
    vec8(Buffer.from([0])),
  ];
  if (!p.noExtensions) {
    const exts: Buffer[] = [];
    if (p.sni !== undefined) exts.push(sniExtension(p.sni));
    if (p.alpn) exts.push(alpnExtension(p.alpn));
    for (const [type, data] of p.extra ?? []) exts.push(extension(type, data));
    parts.push(vec16(Buffer.concat(exts)));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

/** The message cut into handshake records of at most `recordSize` bytes each. */
export function inRecords(message: Buffer, recordSize = 16384): Buffer {
  const records: Buffer[] = [];
  for (let i = 0; i < message.length; i += recordSize) {
    const fragment = message.subarray(i, i + recordSize);
    records.push(Buffer.from([0x16, 3, 1, (fragment.length >> 8) & 0xff, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(records);
}

export const buildClientHello = (p: HelloParts, recordSize?: number): Buffer => inRecords(clientHelloMessage(p), recordSize);
