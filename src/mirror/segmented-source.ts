// A segmented fill's byte source (docs/segmented-fills.md): one blob fetched as several concurrent Range requests,
// the segments ahead of the contiguous prefix written at their offsets in the fill's temp file, and handed on in
// order, as one stream, so the fill hashes and writes the contiguous prefix as it grows and its followers read it
// as before (docs/architecture.md, "Decision: blobs stream, verify, then commit"). The first connection is
// the fill's own GET of the whole blob: it delivers the first segment (so the first byte comes as soon as with one
// stream) and, where the upstream turns out to ignore Range, the whole blob. A broken or stalled connection is
// resumed at the first missing byte, with backoff, a bounded number of times; the stream only pauses meanwhile.
// Without a connection to spare (the upstream's budget spent) the source is that GET alone, resumed the same way;
// a blob below the threshold is read without this source (resuming-chunks.ts).
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';
import { classifyRangeAnswer } from './range-answer.js';
import { countFailure, cutSegments, fatalError, resumeBackoff, viewOf, type ConnectionSlots, type RangeFetcher, type Segment, type SegmentPlan, type SegmentView } from './segment-plan.js';
import { writeAll } from './temp-file-writes.js';

export type { ConnectionSlots, RangeAnswer, RangeFetcher, ResumePlan, SegmentPlan, SegmentState, SegmentView } from './segment-plan.js';

/** Bytes read back from the temp file at a time, once the prefix reaches a segment written ahead of it. */
const readBackBytes = 1024 * 1024;

/** In-order bytes the stream may hold unread before the front segment's connection waits for the reader. */
const frontBufferBytes = 8 * 1024 * 1024;

export class SegmentedSource extends Readable {
  private readonly segments: Segment[];
  private emitted = 0;
  private front = 0;
  private readonly controller = new AbortController();
  /** undefined until the first Range answer says whether Range is honoured. */
  private rangeHonoured: boolean | undefined;
  private rangeKnown: Promise<boolean>;
  private settleRange!: (honoured: boolean) => void;
  private wakeReader: (() => void) | undefined;
  private readerWaiting: Promise<void> | undefined;
  private wakeWorkers = new Set<() => void>();
  /** The fill's temp file, once the fill has opened it: segments ahead of the prefix go there. */
  private file: FileHandle | undefined;
  private readingBack = false;
  /** Settles once the first bytes have been handed on (or the source is stopped). */
  private readonly firstBytesOut: Promise<void>;
  private settleFirstBytes!: () => void;
  /** Bodies being read: destroyed with the source. */
  private readonly reading = new Set<Readable>();
  resumes = 0;
  /** Range requests answered with the whole blob: the fill went on as one stream. */
  fellBack = false;
  /** Told about each resumed connection (metrics). */
  onResume: (() => void) | undefined;

  constructor(
    head: Readable,
    private readonly plan: SegmentPlan,
    private readonly fetchRange: RangeFetcher,
    private readonly slots: ConnectionSlots,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.segments = cutSegments(plan);
    this.rangeKnown = new Promise((resolve) => (this.settleRange = resolve));
    this.firstBytesOut = new Promise((resolve) => (this.settleFirstBytes = resolve));
    void this.run(head);
  }

  /**
   * The fill's temp file (the fill's own handle): from now on, bytes ahead of the prefix are written there at their
   * offsets instead of held in memory; the fill writes the same bytes again when the prefix reaches them.
   */
  useFile(file: Promise<FileHandle>): void {
    file.then(
      (handle) => {
        this.file = handle;
        // Connections waiting for the prefix to catch up may go on: what they fetch now goes to the file.
        for (const wake of this.wakeWorkers) wake();
        this.wakeWorkers.clear();
      },
      () => undefined,
    );
  }

  /** Segments in the plan (one once the fill fell back to one stream). */
  get segmentCount(): number {
    return this.fellBack ? 1 : this.segments.length;
  }

  view(): SegmentView[] {
    return this.segments.map(viewOf);
  }

  override _read(): void {
    this.pump();
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    this.readerWaiting = undefined;
    wake?.();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.controller.abort(err ?? new Error('segmented fetch stopped'));
    for (const body of this.reading) body.destroy();
    this.settleRange(false);
    this.settleFirstBytes();
    for (const wake of this.wakeWorkers) wake();
    callback(err);
  }

  private async run(head: Readable): Promise<void> {
    // The first segment rides on the fill's own GET; more connections as slots allow.
    let slots = 0;
    while (slots + 1 < this.plan.connections && slots + 1 < this.segments.length && this.slots.tryAcquire()) slots++;
    const first = this.segments[0];
    if (first) first.claimed = true;
    // No connection to add: the fill's own GET carries the whole blob, as without segments.
    if (slots === 0) this.oneStream();
    const workers = [this.worker(first, head)];
    // The other connections start once the first bytes are out: their handshakes never delay the first byte.
    if (slots > 0) await Promise.race([this.firstBytesOut, workers[0]]);
    for (let i = 0; i < slots; i++) workers.push(this.worker(undefined, undefined).finally(() => this.slots.release()));
    await Promise.all(workers);
  }

  /** Fetches segments until none is left to claim; `segment` and `head` are the first one's, if given. */
  private async worker(segment: Segment | undefined, head: Readable | undefined): Promise<void> {
    try {
      let current = segment ?? (await this.claim());
      let body = head;
      while (current && !this.destroyed) {
        await this.fill(current, body);
        body = undefined;
        current = await this.claim();
      }
    } catch (err) {
      head?.destroy();
      if (!this.destroyed) this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The lowest unclaimed segment, once it is within the look-ahead (bounded memory); undefined when none is left. */
  private async claim(): Promise<Segment | undefined> {
    for (;;) {
      if (this.destroyed || this.rangeHonoured === false) return undefined;
      const next = this.segments.find((s) => !s.claimed);
      if (!next) return undefined;
      // In memory, segments wait ahead of the prefix: bounded. In the temp file they may run as far ahead as they go.
      if (this.file || next.start - this.emitted < this.plan.segmentBytes * this.plan.connections * 2) {
        next.claimed = true;
        return next;
      }
      await new Promise<void>((resolve) => this.wakeWorkers.add(resolve));
    }
  }

  /** One segment, resumed at its first missing byte until it is complete or out of tries. */
  private async fill(segment: Segment, head: Readable | undefined): Promise<void> {
    let body = head;
    let skip = 0;
    let failures = 0;
    while (segment.next < segment.end) {
      segment.tries++;
      segment.state = 'fetching';
      const before = segment.next;
      try {
        if (!body) {
          const opened = await this.open(segment);
          // Range ignored: the first segment's connection carries the blob.
          if (!opened) return;
          ({ body, skip } = opened);
        }
        await this.receive(segment, body, skip);
      } catch (err) {
        if (this.destroyed) return;
        failures = countFailure(this.plan, err, failures, segment.next > before, segment.next);
        segment.state = 'retrying';
        this.resumes++;
        this.onResume?.();
        await resumeBackoff(this.plan, failures, this.controller.signal);
      } finally {
        body?.destroy();
        body = undefined;
      }
    }
    segment.state = 'done';
  }

  /**
   * A Range request for the rest of `segment`. When the upstream ignores Range, the first segment's connection
   * goes on with the whole blob (skipping what it already has) and every other one stops (undefined).
   */
  private async open(segment: Segment): Promise<{ body: Readable; skip: number } | undefined> {
    const res = await this.fetchRange(segment.next, segment.end - 1, this.controller.signal);
    if (classifyRangeAnswer(res, segment.next, segment.end - 1, this.plan.size) === 'partial') {
      if (this.rangeHonoured === undefined) {
        this.rangeHonoured = true;
        this.settleRange(true);
        this.pump();
      }
      return { body: res.body, skip: 0 };
    }
    if (this.rangeHonoured === true) {
      res.body.destroy();
      throw new RegistryError('UNAVAILABLE', 'upstream answered a Range request with the whole blob');
    }
    this.ignoreRange();
    if (segment === this.segments[0]) return { body: res.body, skip: segment.next };
    res.body.destroy();
    return undefined;
  }

  /** The upstream ignores Range: the first segment grows to the whole blob, carried by the fill's own GET. */
  private ignoreRange(): void {
    if (this.rangeHonoured === false) return;
    this.fellBack = true;
    this.oneStream();
  }

  /** The first segment's connection carries the whole blob. */
  private oneStream(): void {
    this.rangeHonoured = false;
    const first = this.segments[0];
    if (first) {
      first.end = this.plan.size;
      this.segments.length = 1;
    }
    this.settleRange(false);
    for (const wake of this.wakeWorkers) wake();
    this.pump();
  }

  private async receive(segment: Segment, body: Readable, skip: number): Promise<void> {
    let stalled: NodeJS.Timeout | undefined;
    const arm = () => {
      if (stalled) stalled.refresh();
      else stalled = setTimeout(() => body.destroy(new RegistryError('UPSTREAM_TIMEOUT', 'upstream segment stalled')), this.plan.stallTimeoutMs);
    };
    this.reading.add(body);
    try {
      arm();
      for await (const chunk of body) {
        arm();
        let incoming = chunk as Buffer;
        if (skip > 0) {
          const dropped = Math.min(skip, incoming.length);
          skip -= dropped;
          incoming = incoming.subarray(dropped);
        }
        let buffer = incoming;
        const room = segment.end - segment.next;
        if (buffer.length > room) {
          if (segment !== this.segments[0] || this.rangeHonoured === false) {
            throw fatalError('upstream sent more than the range asked for');
          }
          // The fill's own GET has delivered the first segment: keep the rest only if Range turns out ignored.
          buffer = buffer.subarray(0, room);
        }
        if (buffer.length > 0) await this.accept(segment, buffer);
        if (segment.next === segment.end) {
          if (segment === this.segments[0] && segment.end < this.plan.size && this.rangeHonoured === undefined) {
            // Hold the whole-blob GET (TCP backpressure) until a Range answer says whether it must go on.
            clearTimeout(stalled);
            stalled = undefined;
            const honoured = await this.rangeKnown;
            arm();
            if (!honoured) {
              if (incoming.length > buffer.length) {
                const tail = incoming.subarray(buffer.length);
                segment.chunks.push(tail);
                segment.next += tail.length;
                segment.heldBytes += tail.length;
                this.pump();
              }
              continue;
            }
          }
          return;
        }
        // The front segment's bytes wait in memory for the reader: past a bound, the connection waits for it too.
        if (segment === this.segments[this.front] && segment.heldBytes > frontBufferBytes) {
          clearTimeout(stalled);
          stalled = undefined;
          await this.readerDrained();
          arm();
        }
      }
      if (segment.next < segment.end) throw new RegistryError('UPSTREAM_INVALID', `upstream ended a range at byte ${segment.next}`);
    } finally {
      clearTimeout(stalled);
      this.reading.delete(body);
    }
  }

  /** Received bytes: into the temp file when ahead of the prefix (and the file is open), else into memory. */
  private async accept(segment: Segment, buffer: Buffer): Promise<void> {
    const file = this.file;
    if (file && segment !== this.segments[this.front] && segment.chunks.length === 0 && segment.diskEnd === segment.next) {
      const at = segment.next;
      segment.next += buffer.length;
      segment.writing = true;
      try {
        await writeAll(file, buffer, at);
      } catch (err) {
        throw fatalError('segment could not be written to the temp file', err);
      } finally {
        segment.writing = false;
      }
      segment.diskEnd = at + buffer.length;
    } else {
      segment.chunks.push(buffer);
      segment.next += buffer.length;
      segment.heldBytes += buffer.length;
    }
    this.pump();
  }

  /** Hands on the front segment's bytes that were written ahead of the prefix, reading them back in order. */
  private async readBack(segment: Segment): Promise<void> {
    if (this.readingBack) return;
    this.readingBack = true;
    try {
      const file = this.file;
      while (file && segment.diskEnd > this.emitted && !this.destroyed) {
        const length = Math.min(readBackBytes, segment.diskEnd - this.emitted);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await file.read(buffer, 0, length, this.emitted);
        if (bytesRead === 0) throw new Error('temp file read made no progress');
        this.emitted += bytesRead;
        if (!this.push(buffer.subarray(0, bytesRead))) await this.readerDrained();
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(fatalError('segment could not be read back from the temp file', err));
      return;
    } finally {
      this.readingBack = false;
    }
    this.pump();
  }

  private readerDrained(): Promise<void> {
    this.readerWaiting ??= new Promise((resolve) => (this.wakeReader = resolve));
    return this.readerWaiting;
  }

  /** Hands the contiguous prefix on, in order, as far as the reader takes it. */
  private pump(): void {
    for (;;) {
      const segment = this.segments[this.front];
      if (!segment) {
        if (this.emitted === this.plan.size && !this.readableEnded) this.push(null);
        return;
      }
      if (this.readingBack) return;
      if (segment.diskEnd > this.emitted) {
        void this.readBack(segment);
        return;
      }
      // A write ahead of the prefix still running: its bytes come before any in memory.
      if (segment.writing) return;
      const chunk = segment.chunks.shift();
      if (chunk) {
        this.emitted += chunk.length;
        segment.heldBytes -= chunk.length;
        this.settleFirstBytes();
        if (!this.push(chunk)) return;
        continue;
      }
      if (segment.next < segment.end || segment.end > this.emitted) return;
      // The first segment may yet grow to the whole blob (Range ignored): the front stays on it until that is known.
      if (this.front === 0 && this.rangeHonoured === undefined) return;
      this.front++;
      for (const wake of this.wakeWorkers) wake();
      this.wakeWorkers.clear();
    }
  }
}
