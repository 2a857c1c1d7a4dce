// Deterministic, incompressible bytes: an AES-256-CTR keystream keyed by a seed. Same seed, same bytes, so
// fixture digests are stable across runs; random-looking, so gzip cannot shrink layers below their size.
import { createCipheriv, createHash, type Cipheriv } from 'node:crypto';

const chunkSize = 1024 * 1024;
const zeros = Buffer.alloc(chunkSize);

export class Keystream {
  private readonly cipher: Cipheriv;

  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** The next `size` bytes of the stream. */
  next(size: number): Buffer {
    if (size <= chunkSize) return this.cipher.update(zeros.subarray(0, size));
    return this.cipher.update(Buffer.alloc(size));
  }

  /** `size` bytes in chunks of at most 1 MiB, for streaming big blobs without holding them. */
  *chunks(size: number): Generator<Buffer> {
    for (let left = size; left > 0; left -= chunkSize) yield this.next(Math.min(left, chunkSize));
  }
}
