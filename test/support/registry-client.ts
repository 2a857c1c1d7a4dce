// One client API over the three ways a registry client reaches the mirror: plain HTTP/1.1, HTTP/1.1 over TLS and
// HTTP/2 over TLS. A `host` header becomes HTTP/2's `:authority`, as real h2 clients send it (RFC 9113 §8.3.1), so
// one test body runs over every protocol (see `protocols`).
import { connect as h2connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { createTestCa } from './pki.js';
import type { TestMirror } from './mirror-app.js';

export const protocols = ['http/1.1', 'https/1.1', 'h2'] as const;
export type Protocol = (typeof protocols)[number];

export interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string;
}

export interface RegistryClient {
  readonly protocol: Protocol;
  readonly scheme: 'http' | 'https';
  /** `scheme://127.0.0.1:PORT` of the listener this client talks to. */
  readonly origin: string;
  fetch(path: string, options?: RequestOptions): Promise<Fetched>;
  close(): Promise<void>;
}

export interface MirrorTls {
  caPem: string;
  /** For the mirror's `tls.certificates`: `*.mirror.test`, `mirror.test`, `localhost` and 127.0.0.1. */
  cert: string;
  key: string;
}

let shared: Promise<MirrorTls> | undefined;

/** One CA and server certificate per test process (certificates take openssl runs to make). */
export function mirrorTls(): Promise<MirrorTls> {
  shared ??= (async () => {
    const ca = await createTestCa(await mkdtemp(join(tmpdir(), 'pullgate-client-ca-')));
    const leaf = await ca.issue('mirror', ['mirror.test', '*.mirror.test', 'localhost'], ['127.0.0.1']);
    return { caPem: ca.caCertPem, cert: leaf.certPath, key: leaf.keyPath };
  })();
  return shared;
}

/** Config keys that add the HTTPS listener (h2 and HTTP/1.1 by ALPN) beside the plain one. */
export async function httpsListener(): Promise<{ listen: { http: string; https: string }; tls: { certificates: Array<{ cert: string; key: string }> } }> {
  const tls = await mirrorTls();
  return { listen: { http: '127.0.0.1:0', https: '127.0.0.1:0' }, tls: { certificates: [{ cert: tls.cert, key: tls.key }] } };
}

/** A client of `mirror` speaking `protocol`; the mirror needs its HTTPS listener (httpsListener()) for TLS. */
export async function registryClient(protocol: Protocol, mirror: Pick<TestMirror, 'url' | 'httpsUrl'>): Promise<RegistryClient> {
  if (protocol === 'http/1.1') return h1Client(protocol, mirror.url);
  if (!mirror.httpsUrl) throw new Error(`${protocol} needs the mirror's HTTPS listener`);
  const { caPem } = await mirrorTls();
  return protocol === 'h2' ? h2Client(mirror.httpsUrl, caPem) : h1Client(protocol, mirror.httpsUrl, caPem);
}

function h1Client(protocol: Protocol, origin: string, ca?: string): RegistryClient {
  // allowH2 false: this client is the HTTP/1.1 side of the comparison even where the listener offers h2. The TLS
  // name is the listener's address, never a Host header the test sets (undici would take it for SNI).
  const tls = ca ? buildConnector({ ca, allowH2: false }) : undefined;
  const dispatcher = new Agent({
    allowH2: false,
    ...(tls ? { connect: (opts: buildConnector.Options, cb: buildConnector.Callback) => tls({ ...opts, servername: undefined as unknown as string }, cb) } : {}),
  });
  return {
    protocol,
    scheme: origin.startsWith('https:') ? 'https' : 'http',
    origin,
    async fetch(path, options = {}) {
      const res = await request(origin + path, {
        method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
        headers: options.headers ?? {},
        ...(options.body !== undefined ? { body: options.body } : {}),
        dispatcher,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    },
    close: () => dispatcher.close(),
  };
}

function h2Client(origin: string, ca: string): RegistryClient {
  let session: ClientHttp2Session | undefined;
  const open = (): ClientHttp2Session => {
    if (!session || session.closed || session.destroyed) {
      session = h2connect(origin, { ca });
      session.on('error', () => undefined);
    }
    return session;
  };
  return {
    protocol: 'h2',
    scheme: 'https',
    origin,
    fetch(path, options = {}) {
      const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
      const headers: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_METHOD]: method, [constants.HTTP2_HEADER_PATH]: path };
      for (const [name, value] of Object.entries(options.headers ?? {})) {
        const lower = name.toLowerCase();
        headers[lower === 'host' ? constants.HTTP2_HEADER_AUTHORITY : lower] = value;
      }
      return new Promise<Fetched>((resolve, reject) => {
        const stream = open().request(headers, { endStream: options.body === undefined });
        let response: IncomingHttpHeaders = {};
        const chunks: Buffer[] = [];
        stream.on('response', (h) => (response = h));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          const { [constants.HTTP2_HEADER_STATUS]: status, ...rest } = response;
          resolve({ status: Number(status), headers: rest as Fetched['headers'], body: Buffer.concat(chunks) });
        });
        if (options.body !== undefined) stream.end(options.body);
      });
    },
    async close() {
      const s = session;
      session = undefined;
      if (s && !s.closed) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
