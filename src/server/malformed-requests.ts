// Requests refused before any route still get an OCI error body: a path whose percent-encoding fastify's router
// cannot decode, and requests Node's parser refuses (absurd headers, broken framing).
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply } from 'fastify';
import { RegistryError } from '../registry/errors.js';
import { errorReply } from './error-reply.js';

/** fastify's `frameworkErrors`. */
export function frameworkErrorReply(err: FastifyError, reply: FastifyReply): void {
  const e = errorReply(new RegistryError('REQUEST_INVALID', err.code === 'FST_ERR_BAD_URL' ? 'malformed percent-encoding in the request path' : undefined));
  void reply.code(e.status).headers(e.headers).send(e.body);
}

/** fastify's `clientErrorHandler`: the answer is written on the socket, as no request exists yet. */
export function clientErrorReply(err: Error, socket: Socket): void {
  if (!socket.writable) return void socket.destroy();
  const tooLarge = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW';
  const e = errorReply(new RegistryError('REQUEST_INVALID', tooLarge ? 'request headers too large' : 'malformed HTTP request'));
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\nconnection: close\r\n` +
      `content-length: ${Buffer.byteLength(e.body)}\r\n\r\n${e.body}`,
  );
}
