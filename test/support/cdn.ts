// A CDN-like static host for distribution's `redirect` storage middleware: it serves the registry's blob
// files at their storage paths, like Docker Hub's CDN, without `Docker-Content-Digest`. Its records are the
// ground truth for "bytes fetched from upstream" and "no Authorization reached the CDN".
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listenHttps } from './loopback-listener.js';
import type { IssuedCert } from './pki.js';

export interface CdnRequestRecord {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  hasAuthorization: boolean;
  /** The Range header as sent, if any. */
  range?: string | undefined;
  /** 0 until the answer has been sent. */
  status: number;
  /** Body bytes handed to the socket so far (grows while a download runs). */
  bytesSent: number;
  /** True once the response ended cleanly; false while running or when the client went away. */
  completed: boolean;
}

export interface Cdn {
  url: string;
  /** `HOST:PORT`. */
  hostPort: string;
  requests: CdnRequestRecord[];
  /** Sum of `bytesSent` over all recorded requests. */
  bytesSent(): number;
  /** Answer Range requests with the whole file (200), as a store that ignores Range does. */
  ignoreRange: boolean;
  /** Answer the next this many Range GETs 403, as a store does once a signed URL has expired mid-download. */
  expireNext: number;
  /** Corrupt one byte of every answer whose range covers this offset (one bad segment). */
  corruptAt: number | undefined;
  reset(): void;
  close(): Promise<void>;
}

const blobPath = /^\/docker\/registry\/v2\/blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})\/data$/;

type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges, other units) is ignored (RFC 9110 §14.2). */
function parseRange(header: string | undefined, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return end < start ? undefined : { start, end };
}

/** `plainHttp`: the CDN answers over plain http (an https registry's redirect to it is a downgrade). */
export async function startCdn(opts: { storageRoot: string; tls: IssuedCert; host?: string; bytesPerSecond?: number; plainHttp?: boolean }): Promise<Cdn> {
  const rate = opts.bytesPerSecond;
  const requests: CdnRequestRecord[] = [];

  const faults = { ignoreRange: false, expireNext: 0, corruptAt: undefined as number | undefined };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://cdn.invalid');
    const record: CdnRequestRecord = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.search,
      headers: { ...req.headers },
      hasAuthorization: req.headers.authorization !== undefined,
      range: req.headers.range,
      status: 0,
      bytesSent: 0,
      completed: false,
    };
    requests.push(record);
    res.on('finish', () => (record.completed = true));
    const send = (status: number, headers: Record<string, string | number> = {}): void => {
      record.status = status;
      res.writeHead(status, headers);
    };

    const match = blobPath.exec(url.pathname);
    if (match === null || !match[2]?.startsWith(match[1] ?? '')) return void (send(404), res.end());
    if (req.method !== 'GET' && req.method !== 'HEAD') return void (send(405, { allow: 'GET, HEAD' }), res.end());
    const file = join(opts.storageRoot, url.pathname);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) return void (send(404), res.end());

    const common = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'last-modified': info.mtime.toUTCString(),
      etag: `"${match[2]}"`,
    };
    if (req.method === 'GET' && req.headers.range !== undefined && faults.expireNext > 0) {
      faults.expireNext--;
      return void (send(403, { 'content-type': 'application/xml' }), res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'));
    }
    const range = faults.ignoreRange ? undefined : parseRange(req.headers.range, info.size);
    if (range === 'unsatisfiable') {
      return void (send(416, { ...common, 'content-range': `bytes */${info.size}` }), res.end());
    }
    const { start, end } = range ?? { start: 0, end: info.size - 1 };
    const length = info.size === 0 ? 0 : end - start + 1;
    send(range === undefined ? 200 : 206, {
      ...common,
      'content-length': length,
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${info.size}` }),
    });
    if (req.method === 'HEAD' || length === 0) return void res.end();

    const started = performance.now();
    let offset = start;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        const bad = faults.corruptAt;
        if (bad !== undefined && bad >= offset && bad < offset + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[bad - offset] = (chunk[bad - offset] ?? 0) ^ 0xff;
        }
        offset += chunk.length;
        record.bytesSent += chunk.length;
        // Paced: a chunk ahead of the link's schedule waits for it.
        const ahead = rate ? (record.bytesSent / rate) * 1000 - (performance.now() - started) : 0;
        if (ahead >= 1) setTimeout(() => callback(null, chunk), ahead);
        else callback(null, chunk);
      },
    });
    // A client that hangs up mid-body rejects the pipeline; that is its right, not a server error.
    await pipeline(createReadStream(file, { start, end }), counter, res).catch(() => undefined);
  };

  const listener = await listenHttps(opts.plainHttp ? undefined : opts.tls, opts.host ?? '127.0.0.1', handle);
  return {
    url: listener.url,
    hostPort: listener.hostPort,
    requests,
    bytesSent: () => requests.reduce((sum, r) => sum + r.bytesSent, 0),
    get ignoreRange() {
      return faults.ignoreRange;
    },
    set ignoreRange(v: boolean) {
      faults.ignoreRange = v;
    },
    get expireNext() {
      return faults.expireNext;
    },
    set expireNext(v: number) {
      faults.expireNext = v;
    },
    get corruptAt() {
      return faults.corruptAt;
    },
    set corruptAt(v: number | undefined) {
      faults.corruptAt = v;
    },
    reset: () => void (requests.length = 0),
    close: listener.close,
  };
}
