// Manifests and tag lists are small documents read whole; anything larger than its limit is refused.
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';

export async function readLimited(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new RegistryError('UPSTREAM_INVALID', `upstream ${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
