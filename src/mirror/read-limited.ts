// Manifests and tag lists are small documents read whole; anything larger than its limit is refused, at once
// when the upstream announces it, and an answer that breaks off (shorter than its Content-Length, a reset) is
// an invalid answer, not a crash (docs/security.md, "Mirror and upstream").
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';

export async function readLimited(body: Readable, limit: number, what: string, contentLength?: string | string[]): Promise<Buffer> {
  const tooLarge = (): RegistryError => new RegistryError('UPSTREAM_INVALID', `upstream ${what} is larger than ${limit} bytes`);
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
    throw new RegistryError('UPSTREAM_INVALID', `upstream ${what} broke off after ${size} bytes`, { cause: err });
  }
  return Buffer.concat(chunks, size);
}
