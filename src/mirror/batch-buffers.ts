// The buffers a blob fill copies its upstream chunks into (blob-fill.ts): 512 KiB each, taken from a small pool
// and given back once nothing refers to them. Why a pool: a fill of 1 GiB would otherwise allocate 2048 buffers
// outside the JS heap, which V8 frees only when a collection finds them dead; external memory grows until it
// does and the collections it forces cost CPU on the byte path (docs/operating.md, "Memory"). A buffer given back
// is written into again by the next batch, of this fill or another. Hand-written: it sits on the hot byte path
// and is a dozen lines.
import { maxUnwrittenBytes } from './fill-writer.js';

export const batchBufferBytes = 512 * 1024;

/**
 * Free buffers kept at most: one fill's working set (what may wait for the disk, maxUnwrittenBytes, plus the few
 * batches kept for its readers and the one being filled), 12 MiB. Fewer, and a fill whose disk lags a little makes
 * a new buffer for nearly every other batch (measured: 216 buffers made for a 200 MiB fill with 8 kept, 21 with
 * 24). Past it a buffer given back is dropped (collected), so a burst of concurrent fills does not leave its
 * buffers held for ever.
 */
const maxFree = Math.ceil(maxUnwrittenBytes / batchBufferBytes) + 8;

/**
 * While no fill holds any buffer, one free buffer is let go each time this passes, so a process that filled once
 * comes to hold no batch buffers while it only serves hits (a 16 MiB fill left 3 MiB of them before a cache-hit
 * load, gone in 6 s; a burst of fills up to 12 MiB, gone in 24 s). One at a time, not all at once: a buffer let go is
 * freed only with the next full collection, so fills a little more than this apart that each made their whole working
 * set again (up to 24 buffers, 12 MiB) would pile up dead buffers until then (measured: 16 MiB fills 1.1 s apart
 * peaked at 58 MiB of buffers against 26 MiB kept); they remake one each instead.
 */
const idleFreeMs = 1000;

export class BatchBufferPool {
  private readonly free: Buffer[] = [];
  /** Buffers made so far (reused ones are not counted again): what tests and measurements look at. */
  made = 0;
  /** Pool-sized buffers taken and not given back yet. */
  private out = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly bufferBytes: number,
    readonly keepFree: number,
    /** How often a free buffer is let go while none is out (see idleFreeMs). */
    private readonly idleMs = idleFreeMs,
  ) {}

  /** A buffer of `bufferBytes`; one of exactly `bytes` when fewer are wanted (a small blob, never pooled). */
  take(bytes = this.bufferBytes): Buffer {
    if (bytes < this.bufferBytes) return Buffer.allocUnsafe(bytes);
    this.out++;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const reused = this.free.pop();
    if (reused) return reused;
    this.made++;
    // Outside Node's shared allocation pool: a whole buffer of its own, reused.
    return Buffer.allocUnsafeSlow(this.bufferBytes);
  }

  /** Only once nothing refers to `buffer` any more: no write to the temp file, no reader copying from it. */
  giveBack(buffer: Buffer): void {
    if (buffer.length !== this.bufferBytes) return;
    this.out = Math.max(0, this.out - 1);
    if (this.free.length < this.keepFree) this.free.push(buffer);
    if (this.out === 0) this.idleSoon();
  }

  private idleSoon(): void {
    if (this.idleTimer === undefined && this.free.length > 0) this.idleTimer = setTimeout(() => this.freeIdle(), this.idleMs).unref();
  }

  /**
   * Lets one free buffer go when still no fill holds one, and the next one later: collected with the next full
   * collection. Not detached (which would free its memory at once): should a write still refer to it, through a fault
   * elsewhere, a detached buffer's memory would be freed under the socket, a freed block of native memory sent to a
   * client.
   */
  private freeIdle(): void {
    this.idleTimer = undefined;
    if (this.out > 0) return;
    this.free.pop();
    this.idleSoon();
  }

  /** Free buffers held now. */
  get freeCount(): number {
    return this.free.length;
  }
}

/**
 * Pool buffers whose bytes responses write to their clients without a copy right now (a follower of a fill in
 * progress, src/server/send-file.ts), at most: each such buffer stays out of the pool until its writes are done,
 * so past the bound a response copies instead and the process holds no more however many followers lag.
 */
export const maxLentBuffers = 16;
export const lentBuffers = { held: 0 };

/** The one pool every fill of the process takes its batch buffers from. */
export const batchBuffers = new BatchBufferPool(batchBufferBytes, maxFree);

/**
 * One pool buffer shared by the batches cut from it: given back to the pool when the fill no longer writes into it
 * and each batch cut from it has let it go (docs/architecture.md, "Decision: blobs stream, verify, then commit").
 */
export class SharedBatchBuffer {
  readonly bytes: Buffer;
  /** Bytes copied in so far. */
  filled = 0;
  /** Bytes already cut into batches. */
  cut = 0;
  /** The fill that writes into it, and each batch cut from it not yet let go. */
  private holders = 1;

  /** `wanted`: the bytes still to come; a smaller buffer than the pool's is made for fewer (a small blob's). */
  constructor(wanted: number, private readonly pool: BatchBufferPool = batchBuffers) {
    this.bytes = pool.take(Math.max(1, Math.min(wanted, pool.bufferBytes)));
  }

  get room(): number {
    return this.bytes.length - this.filled;
  }

  /** The bytes copied in since the last cut, as one batch holding this buffer until it lets it go (release). */
  cutBatch(): Buffer {
    const batch = this.bytes.subarray(this.cut, this.filled);
    this.cut = this.filled;
    this.holders++;
    return batch;
  }

  /** Responses writing bytes of it without a copy (lend). */
  private lends = 0;

  /** Its bytes written to a client without a copy hold it until giveBackLent; false past maxLentBuffers. */
  lend(): boolean {
    if (this.lends === 0) {
      if (lentBuffers.held >= maxLentBuffers) return false;
      lentBuffers.held++;
    }
    this.lends++;
    this.holders++;
    return true;
  }

  /** A response's write of lent bytes is done with them. */
  giveBackLent(): void {
    if (--this.lends === 0) lentBuffers.held--;
    this.release();
  }

  /** A batch cut from it, or the fill that wrote into it, lets it go; the last one gives it back to the pool. */
  release(): void {
    if (--this.holders === 0) this.pool.giveBack(this.bytes);
  }
}
