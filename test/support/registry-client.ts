// One client API over the three ways a registry client reaches the mirror: plain HTTP/1.1, HTTP/1.1 over TLS and
// HTTP/2 over TLS. A `host` header becomes HTTP/2's `:authority`, as real h2 clients send it (RFC 9113 §8.3.1), so
// one test body runs over every protocol (see `protocols`); over h2 a request that names `:authority` itself sends
// `host` as a Host header beside it.
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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

export interface Streamed {
  status: number;
  headers: Fetched['headers'];
  body: Readable;
}

export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  body?: string;
}

/** A response whose body did not end cleanly (reset, aborted, or shorter than its Content-Length). */
export class TransferError extends Error {
  constructor(
    message: string,
    /** Body bytes received before the failure. */
    readonly received: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RegistryClient {
  readonly protocol: Protocol;
  readonly scheme: 'http' | 'https';
  /** `scheme://127.0.0.1:PORT` of the listener this client talks to. */
  readonly origin: string;
  /** The whole response; rejects with TransferError when the body does not end cleanly. */
  fetch(path: string, options?: RequestOptions): Promise<Fetched>;
  /** The response as soon as its headers arrive; destroying `body` abandons the transfer as a client would. */
  stream(path: string, options?: RequestOptions): Promise<Streamed>;
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

export interface ClientOptions {
  /** The CA the listener's certificate chains to; default mirrorTls()'s. */
  ca?: string;
  /** Dial this origin instead of the listener's address (a hostname the test resolves, for SNI and Host). */
  origin?: string;
}

/** A client of `mirror` speaking `protocol`; the mirror needs its HTTPS listener (httpsListener()) for TLS. */
export async function registryClient(protocol: Protocol, mirror: Pick<TestMirror, 'url' | 'httpsUrl'>, options: ClientOptions = {}): Promise<RegistryClient> {
  if (protocol === 'http/1.1') return h1Client(protocol, options.origin ?? mirror.url);
  if (!mirror.httpsUrl) throw new Error(`${protocol} needs the mirror's HTTPS listener`);
  const ca = options.ca ?? (await mirrorTls()).caPem;
  const origin = options.origin ?? mirror.httpsUrl;
  return protocol === 'h2' ? h2Client(origin, ca) : h1Client(protocol, origin, ca);
}

function h1Client(protocol: Protocol, origin: string, ca?: string): RegistryClient {
  // allowH2 false: this client is the HTTP/1.1 side of the comparison even where the listener offers h2. The TLS
  // name is the listener's address, never a Host header the test sets (undici would take it for SNI).
  const tls = ca ? buildConnector({ ca, allowH2: false }) : undefined;
  const dispatcher = new Agent({
    allowH2: false,
    ...(tls ? { connect: (opts: buildConnector.Options, cb: buildConnector.Callback) => tls({ ...opts, servername: undefined as unknown as string }, cb) } : {}),
  });
  const send = (path: string, options: RequestOptions) =>
    request(origin + path, {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers: options.headers ?? {},
      ...(options.body !== undefined ? { body: options.body } : {}),
      dispatcher,
    });
  return {
    protocol,
    scheme: origin.startsWith('https:') ? 'https' : 'http',
    origin,
    async fetch(path, options = {}) {
      const res = await send(path, options);
      const chunks: Buffer[] = [];
      let received = 0;
      try {
        for await (const chunk of res.body) {
          chunks.push(chunk as Buffer);
          received += (chunk as Buffer).length;
        }
      } catch (err) {
        throw new TransferError(`body failed after ${received} bytes`, received, { cause: err });
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    },
    async stream(path, options = {}) {
      const res = await send(path, options);
      return { status: res.statusCode, headers: res.headers, body: res.body };
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
  const send = (path: string, options: RequestOptions): ClientHttp2Stream => {
    const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
    const headers: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_METHOD]: method, [constants.HTTP2_HEADER_PATH]: path };
    // A request that sets `:authority` itself sends its `host` as a Host header beside it, as some h2 clients do.
    const both = Object.keys(options.headers ?? {}).includes(constants.HTTP2_HEADER_AUTHORITY);
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      const lower = name.toLowerCase();
      headers[lower === 'host' && !both ? constants.HTTP2_HEADER_AUTHORITY : lower] = value;
    }
    const stream = open().request(headers, { endStream: options.body === undefined });
    if (options.body !== undefined) stream.end(options.body);
    return stream;
  };
  return {
    protocol: 'h2',
    scheme: 'https',
    origin,
    stream(path, options = {}) {
      return new Promise<Streamed>((resolve, reject) => {
        const stream = send(path, options);
        stream.on('error', reject);
        stream.on('response', (h) => {
          stream.off('error', reject);
          stream.on('error', () => undefined);
          const { [constants.HTTP2_HEADER_STATUS]: status, ...rest } = h;
          resolve({ status: Number(status), headers: rest as Fetched['headers'], body: stream });
        });
      });
    },
    fetch(path, options = {}) {
      const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
      return new Promise<Fetched>((resolve, reject) => {
        const stream = send(path, options);
        let response: IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        let received = 0;
        let ended = false;
        const fail = (why: string, cause?: unknown): void => reject(response ? new TransferError(`${why} after ${received} bytes`, received, { cause }) : (cause ?? new Error(why)));
        stream.on('response', (h) => (response = h));
        stream.on('data', (c: Buffer) => {
          chunks.push(c);
          received += c.length;
        });
        stream.on('error', (err) => fail('stream error', err));
        stream.on('end', () => (ended = true));
        // A clean end is END_STREAM; a reset (whatever its code) is a failed transfer, as a real client sees it.
        stream.on('close', () => {
          if (!ended || !response || stream.rstCode !== constants.NGHTTP2_NO_ERROR) return fail(`stream reset (code ${stream.rstCode})`);
          const { [constants.HTTP2_HEADER_STATUS]: status, ...rest } = response;
          const length = rest['content-length'];
          // RFC 9113 §8.1.1: a body of another length than Content-Length is malformed.
          if (method !== 'HEAD' && Number(status) !== 304 && length !== undefined && Number(length) !== received) return fail(`body of ${received} bytes for Content-Length ${length}`);
          resolve({ status: Number(status), headers: rest as Fetched['headers'], body: Buffer.concat(chunks) });
        });
      });
    },
    async close() {
      const s = session;
      session = undefined;
      if (s && !s.closed) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
