// Upstream bodies the mirror reads whole (token answers) are read with a cap: a hostile or broken upstream can
// send an endless body or announce a huge Content-Length, and neither may hold the mirror's memory or time.
// Bodies the mirror does not need are dumped, which undici caps too (128 KiB, then the connection is closed).
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';

/** Token answers: a JWT with a certificate chain is a few KiB; 1 MiB is far beyond any real one. */
export const maxTokenBodyBytes = 1024 * 1024;

export async function readCappedText(body: Readable, contentLength: string | string[] | undefined, limit: number, what: string): Promise<string> {
  const tooLarge = (): RegistryError => new RegistryError('UPSTREAM_INVALID', `${what} is larger than ${limit} bytes`);
  const announced = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isFinite(announced) && announced > limit) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
