// Writing a RegistryReply on the raw response. Streams go through pipeline(): when the body errors (a digest
// mismatch, a truncated upstream) the response is destroyed, so the client sees an aborted transfer, never a
// clean short end.
import { Readable, pipeline } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { isPositionalBody } from '../cache/file-body.js';
import type { RegistryReply } from '../mirror/reply.js';
import { sendFileBody } from './send-file.js';

export interface SendResult {
  /** Body bytes handed to the socket. */
  bytes: number;
}

export function sendReply(res: ServerResponse, reply: RegistryReply, head: boolean, onDone: (err: Error | undefined, bytes: number) => void): void {
  for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  res.statusCode = reply.status;
  const body = reply.body;
  if (head || body === undefined) {
    if (body instanceof Readable) body.destroy();
    res.end();
    onDone(undefined, 0);
    return;
  }
  if (Buffer.isBuffer(body)) {
    res.end(body);
    onDone(undefined, body.length);
    return;
  }
  // Headers go out now, not with the first body byte (containerd gives up after 30 s without headers).
  res.flushHeaders();
  if (isPositionalBody(body)) {
    sendFileBody(res, body, onDone);
    return;
  }
  let bytes = 0;
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  pipeline(body, res, (err) => {
    if (err && !res.destroyed) res.destroy(err);
    onDone(err ?? undefined, bytes);
  });
}
