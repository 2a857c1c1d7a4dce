// A small S3-compatible object store over real HTTP on port 0, for what radosgw would be too heavy to start for:
// PutObject (with If-Match and If-None-Match: *), GetObject and DeleteObject on path-style keys, answered the way
// S3 answers them (quoted ETags, 412 PreconditionFailed, 404 NoSuchKey as XML). Writes and deletes can be made slow,
// and the store counts how many writes to one key ran at the same time.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';

export interface SlowObjectStore {
  url: string;
  /** A real AWS SDK client for this store (path style, throwaway credentials). */
  client: S3Client;
  objects: Map<string, { body: Buffer; etag: string }>;
  /** Delay before each PutObject is applied and answered. */
  putDelayMs: number;
  /** Delay before each DeleteObject is applied and answered (a lease's release still on its way). */
  deleteDelayMs: number;
  /** The most PutObject requests in flight at once per key and writer: `<path> <replica named in the body>`. */
  maxConcurrentPuts: Map<string, number>;
  close(): Promise<void>;
}

function error(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The `replica` a lease object names (its writer), or `?`. */
function writerOf(body: Buffer): string {
  try {
    const v = JSON.parse(body.toString('utf8')) as { replica?: unknown };
    return typeof v.replica === 'string' ? v.replica : '?';
  } catch {
    return '?';
  }
}

export async function startSlowObjectStore(): Promise<SlowObjectStore> {
  const objects = new Map<string, { body: Buffer; etag: string }>();
  const inFlight = new Map<string, number>();
  const maxConcurrentPuts = new Map<string, number>();
  const store = { putDelayMs: 0, deleteDelayMs: 0 };
  const server = createServer((req, res) => {
    void (async () => {
      const key = decodeURIComponent(new URL(req.url ?? '/', 'http://store').pathname);
      if (req.method === 'PUT') {
        const body = await bodyOf(req);
        const writer = `${key} ${writerOf(body)}`;
        const running = (inFlight.get(writer) ?? 0) + 1;
        inFlight.set(writer, running);
        maxConcurrentPuts.set(writer, Math.max(maxConcurrentPuts.get(writer) ?? 0, running));
        try {
          await new Promise((r) => setTimeout(r, store.putDelayMs));
          const current = objects.get(key);
          const ifMatch = req.headers['if-match'];
          if (req.headers['if-none-match'] === '*' && current) return error(res, 412, 'PreconditionFailed');
          if (ifMatch !== undefined && (!current || (ifMatch !== current.etag && `"${ifMatch}"` !== current.etag))) return error(res, 412, 'PreconditionFailed');
          const etag = `"${createHash('md5').update(body).update(String(Math.random())).digest('hex')}"`;
          objects.set(key, { body, etag });
          res.writeHead(200, { etag }).end();
        } finally {
          inFlight.set(writer, (inFlight.get(writer) ?? 1) - 1);
        }
        return;
      }
      const current = objects.get(key);
      if (req.method === 'GET') {
        if (!current) return error(res, 404, 'NoSuchKey');
        res.writeHead(200, { etag: current.etag, 'content-length': current.body.length, 'content-type': 'application/json' }).end(current.body);
        return;
      }
      if (req.method === 'DELETE') {
        await new Promise((r) => setTimeout(r, store.deleteDelayMs));
        objects.delete(key);
        res.writeHead(204).end();
        return;
      }
      error(res, 405, 'MethodNotAllowed');
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test-secret' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return Object.assign(store, {
    url,
    client,
    objects,
    maxConcurrentPuts,
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
