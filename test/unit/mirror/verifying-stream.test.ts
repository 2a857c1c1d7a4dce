import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from '../../../src/registry/errors.js';
import { parseDigest, type Digest } from '../../../src/registry/digest.js';
import { VerifyingStream } from '../../../src/mirror/verifying-stream.js';

const blob = randomBytes(100_000);
const digestOf = (bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest =>
  parseDigest(`${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`);

function chunked(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** Runs `chunks` through a VerifyingStream into a collecting Writable; returns what arrived and how it ended. */
async function run(chunks: Buffer[], digest: Digest, length: number | undefined): Promise<{ received: Buffer; error: unknown; finished: boolean }> {
  const parts: Buffer[] = [];
  let finished = false;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk);
      done();
    },
    final(done) {
      finished = true;
      done();
    },
  });
  let error: unknown;
  try {
    await pipeline(Readable.from(chunks), new VerifyingStream(digest, length), sink);
  } catch (err) {
    error = err;
  }
  return { received: Buffer.concat(parts), error, finished };
}

function assertRefused(result: { received: Buffer; error: unknown; finished: boolean }, sent: Buffer[], message: RegExp): void {
  assert.ok(result.error instanceof RegistryError, `expected a RegistryError, got ${String(result.error)}`);
  assert.equal(result.error.code, 'UPSTREAM_INVALID');
  assert.match(result.error.message, message);
  assert.equal(result.finished, false, 'the sink must never see a clean end');
  const whole = Buffer.concat(sent);
  const last = sent[sent.length - 1] ?? Buffer.alloc(0);
  assert.ok(result.received.length <= whole.length - last.length, 'the final chunk is never emitted');
  assert.ok(whole.subarray(0, result.received.length).equals(result.received), 'what was emitted is an intact prefix');
}

describe('VerifyingStream with a correct body', () => {
  for (const size of [1, 7, 4096, 65_536, blob.length]) {
    it(`passes ${size}-byte chunks through intact`, async () => {
      const result = await run(chunked(blob, size), digestOf(blob), blob.length);
      assert.equal(result.error, undefined);
      assert.equal(result.finished, true);
      assert.ok(result.received.equals(blob));
    });
  }

  it('passes a body through when no length was announced', async () => {
    const result = await run(chunked(blob, 10_000), digestOf(blob), undefined);
    assert.equal(result.error, undefined);
    assert.ok(result.received.equals(blob));
  });

  it('verifies a sha512 digest', async () => {
    const result = await run(chunked(blob, 3000), digestOf(blob, 'sha512'), blob.length);
    assert.equal(result.error, undefined);
    assert.ok(result.received.equals(blob));
  });

  it('passes an empty blob', async () => {
    const empty = Buffer.alloc(0);
    const result = await run([], digestOf(empty), 0);
    assert.equal(result.error, undefined);
    assert.equal(result.finished, true);
    assert.equal(result.received.length, 0);
  });
});

describe('VerifyingStream with a bad body', () => {
  for (const size of [1, 4096, 65_536, blob.length]) {
    it(`a flipped byte errors with ${size}-byte chunks`, async () => {
      const corrupt = Buffer.from(blob);
      corrupt[12_345] = (corrupt[12_345] ?? 0) ^ 0xff;
      const sent = chunked(corrupt, size);
      assertRefused(await run(sent, digestOf(blob), blob.length), sent, /does not match its digest/);
    });
  }

  it('a flipped last byte errors', async () => {
    const corrupt = Buffer.from(blob);
    corrupt[blob.length - 1] = (corrupt[blob.length - 1] ?? 0) ^ 0x01;
    const sent = chunked(corrupt, 8192);
    assertRefused(await run(sent, digestOf(blob), blob.length), sent, /does not match its digest/);
  });

  it('a flipped byte errors when no length was announced', async () => {
    const corrupt = Buffer.from(blob);
    corrupt[0] = (corrupt[0] ?? 0) ^ 0xff;
    const sent = chunked(corrupt, 8192);
    assertRefused(await run(sent, digestOf(blob), undefined), sent, /does not match its digest/);
  });

  for (const size of [1000, 65_536]) {
    it(`a short body errors with ${size}-byte chunks`, async () => {
      const sent = chunked(blob.subarray(0, blob.length - 1500), size);
      assertRefused(await run(sent, digestOf(blob), blob.length), sent, new RegExp(`ended after ${blob.length - 1500} of ${blob.length} bytes`));
    });
  }

  it('a short body errors when no length was announced', async () => {
    const sent = chunked(blob.subarray(0, 50_000), 4096);
    assertRefused(await run(sent, digestOf(blob), undefined), sent, /does not match its digest/);
  });

  for (const size of [1000, 65_536]) {
    it(`an over-long body errors with ${size}-byte chunks`, async () => {
      const sent = chunked(Buffer.concat([blob, Buffer.from('trailing garbage')]), size);
      assertRefused(await run(sent, digestOf(blob), blob.length), sent, /longer than announced/);
    });
  }

  it('an over-long body errors as soon as it passes the announced length', async () => {
    const sent = [...chunked(blob, 10_000), Buffer.from('x'), ...chunked(blob, 10_000)];
    const result = await run(sent, digestOf(blob), blob.length);
    assertRefused(result, sent, /longer than announced/);
    assert.ok(result.received.length < blob.length, 'the announced bytes are not all emitted either');
  });

  it('a body of the right length with the wrong content errors', async () => {
    const sent = chunked(randomBytes(blob.length), 16_384);
    assertRefused(await run(sent, digestOf(blob), blob.length), sent, /does not match its digest/);
  });

  it('an empty body for a non-empty blob errors', async () => {
    assertRefused(await run([], digestOf(blob), blob.length), [], /ended after 0 of 100000 bytes/);
  });
});
