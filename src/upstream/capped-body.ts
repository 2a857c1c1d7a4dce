// Upstream bodies the mirror reads whole (manifests, listings, token answers, signature documents) are read with a
// cap: a hostile or broken upstream can send an endless body or announce a huge Content-Length, and neither may
// hold the mirror's memory or time; an answer that breaks off (shorter than its Content-Length, a reset) is an
// invalid answer, not a crash (docs/security.md, "Mirror and upstream"). Bodies the mirror does not need are
// dumped, which undici caps too (128 KiB, then the connection is closed).
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';

/** Token answers: a JWT with a certificate chain is a few KiB; 1 MiB is far beyond any real one. */
export const maxTokenBodyBytes = 1024 * 1024;

/** `body` read whole, at most `limit` bytes; `what` names it in errors ("upstream manifest"). */
export async function readCapped(body: Readable, limit: number, what: string, contentLength?: string | string[]): Promise<Buffer> {
  const tooLarge = (): RegistryError => new RegistryError('UPSTREAM_INVALID', `${what} is larger than ${limit} bytes`);
  const announced = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  if (Number.isFinite(announced) && announced > limit) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.destroy();
        throw tooLarge();
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError || (err instanceof Error && err.name === 'AbortError')) throw err;
    throw new RegistryError('UPSTREAM_INVALID', `${what} broke off after ${size} bytes`, { cause: err });
  }
  return Buffer.concat(chunks, size);
}

export async function readCappedText(body: Readable, contentLength: string | string[] | undefined, limit: number, what: string): Promise<string> {
  return (await readCapped(body, limit, what, contentLength)).toString('utf8');
}
