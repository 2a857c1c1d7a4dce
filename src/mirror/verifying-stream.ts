// Hashes a blob while it streams and holds back the last chunk until length and digest match: a corrupt or truncated
// body then errors instead of ending cleanly (docs/architecture.md, "Decision: blobs stream, verify, then commit";
// docs/protocol.md, "Digest verification").
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { RegistryError } from '../registry/errors.js';
import { digestAlgorithm, type Digest } from '../registry/digest.js';

export class VerifyingStream extends Transform {
  private readonly hash;
  private held: Buffer | undefined;
  private received = 0;

  constructor(
    private readonly digest: Digest,
    private readonly expectedLength: number | undefined,
  ) {
    super();
    this.hash = createHash(digestAlgorithm(digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.received += chunk.length;
    if (this.expectedLength !== undefined && this.received > this.expectedLength) {
      done(new RegistryError('UPSTREAM_INVALID', 'upstream blob is longer than announced'));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.expectedLength !== undefined && this.received !== this.expectedLength) {
      done(new RegistryError('UPSTREAM_INVALID', `upstream blob ended after ${this.received} of ${this.expectedLength} bytes`));
      return;
    }
    const actual = `${digestAlgorithm(this.digest)}:${this.hash.digest('hex')}`;
    if (actual !== this.digest) {
      done(new RegistryError('UPSTREAM_INVALID', 'upstream blob does not match its digest', { detail: { expected: this.digest, got: actual } }));
      return;
    }
    done(null, this.held);
  }
}
