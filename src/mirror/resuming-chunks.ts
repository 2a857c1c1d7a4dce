// A fill's body fetched as one stream (docs/segmented-fills.md, "Resume instead of abort"): the chunks of the
// fill's own GET, and when its connection breaks, ends early or stalls, those of a Range request for the rest
// (`bytes=<first missing byte>-<last>`), after the same backoff and within the same budget of tries as a segment
// (segment-plan.ts). A 200 to that request (the upstream ignores Range) is read from its start, skipping the bytes
// the fill already has. A chunk source itself (src/upstream/chunk-source.ts): no stream layer of its own between
// the upstream's body and the fill.
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';
import { chunkSourceOf, type ChunkSource } from '../upstream/chunk-source.js';
import { QuietTimer } from '../upstream/quiet-timer.js';
import { classifyRangeAnswer } from './range-answer.js';
import { countFailure, fatalError, resumeBackoff, type RangeFetcher, type ResumePlan } from './segment-plan.js';

export class ResumingChunks implements ChunkSource {
  /** Connections resumed so far. */
  resumes = 0;
  /** Told about each resumed connection (metrics). */
  onResume: (() => void) | undefined;
  /** Bytes delivered: the next one is the first the fill is missing. */
  private position = 0;
  /** The body read now; undefined between connections and once over. */
  private current: ChunkSource | undefined;
  private stall: QuietTimer | undefined;
  private paused = false;
  /** Set once onEnd is due (or called): nothing is delivered or asked for after it. */
  private ended = false;
  private endError: Error | undefined;
  private failures = 0;
  private readonly controller = new AbortController();
  private onChunk: ((chunk: Buffer) => void) | undefined;
  private onEnd: ((err?: Error) => void) | undefined;

  constructor(
    private readonly head: Readable,
    private readonly plan: ResumePlan,
    private readonly fetchRange: RangeFetcher,
  ) {}

  deliver(onChunk: (chunk: Buffer) => void, onEnd: (err?: Error) => void): void {
    if (this.onEnd) throw new Error('chunks are delivered once');
    this.onChunk = onChunk;
    this.onEnd = onEnd;
    if (this.ended) return onEnd(this.endError);
    this.read(chunkSourceOf(this.head), 0);
  }

  pause(): void {
    this.paused = true;
    // The fill's own wait (its disk behind) is no stall of the upstream.
    this.disarm();
    this.current?.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.current) this.arm(this.current);
    this.current?.resume();
  }

  destroy(err?: Error): void {
    this.end(err ?? new Error('blob body destroyed'));
  }

  /** Delivers `body`'s chunks from its byte `skip` on; when it breaks, the rest is asked for again. */
  private read(body: ChunkSource, skip: number): void {
    this.current = body;
    const from = this.position;
    let toSkip = skip;
    body.deliver(
      (chunk) => {
        if (this.current !== body) return;
        this.stall?.touch();
        let bytes = chunk;
        if (toSkip > 0) {
          const dropped = Math.min(toSkip, bytes.length);
          toSkip -= dropped;
          bytes = bytes.subarray(dropped);
          if (bytes.length === 0) return;
        }
        if (this.position + bytes.length > this.plan.size) return this.end(fatalError('upstream sent more than the blob\'s size'));
        this.position += bytes.length;
        this.onChunk?.(bytes);
      },
      (err) => {
        if (this.current !== body) return;
        this.current = undefined;
        this.disarm();
        if (this.ended) return;
        if (err === undefined && this.position === this.plan.size) return this.end();
        const failure = err ?? new RegistryError('UPSTREAM_INVALID', `upstream ended the blob at byte ${this.position}`);
        void this.resumeAfter(failure, this.position > from);
      },
    );
    if (this.current !== body) return;
    if (this.paused) body.pause();
    else this.arm(body);
  }

  /** Tries again for the rest after `failure`, until a connection answers, the budget is spent or the source ends. */
  private async resumeAfter(failure: unknown, progressed: boolean): Promise<void> {
    let err = failure;
    let moved = progressed;
    for (;;) {
      try {
        this.failures = countFailure(this.plan, err, this.failures, moved, this.position);
      } catch (fatal) {
        return this.end(fatal instanceof Error ? fatal : new Error(String(fatal)));
      }
      this.resumes++;
      this.onResume?.();
      await resumeBackoff(this.plan, this.failures, this.controller.signal);
      if (this.ended) return;
      const start = this.position;
      const last = this.plan.size - 1;
      try {
        const res = await this.fetchRange(start, last, this.controller.signal);
        const whole = classifyRangeAnswer(res, start, last, this.plan.size) === 'whole';
        if (this.ended) return void res.body.destroy();
        return this.read(chunkSourceOf(res.body), whole ? start : 0);
      } catch (next) {
        if (this.ended) return;
        err = next;
        moved = false;
      }
    }
  }

  /** A connection silent for the stall timeout is given up (and resumed). */
  private arm(body: ChunkSource): void {
    this.disarm();
    this.stall = new QuietTimer(this.plan.stallTimeoutMs, () => body.destroy(new RegistryError('UPSTREAM_TIMEOUT', 'upstream blob stalled')));
  }

  private disarm(): void {
    this.stall?.stop();
    this.stall = undefined;
  }

  /** The end, once: without an error after the last byte, else with it; the connection being read is closed. */
  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = err;
    this.disarm();
    this.controller.abort(err ?? new Error('blob body complete'));
    const body = this.current;
    this.current = undefined;
    if (body) body.destroy(err);
    else if (!this.onEnd) this.head.destroy(err);
    this.onEnd?.(err);
  }
}
