// What a segmented fill is made of (docs/segmented-fills.md): the plan an upstream's settings give one blob, the
// segments it is cut into and what each has received, the answers no retry can mend, and when a broken
// connection is tried again (shared with the one-stream source, resuming-chunks.ts).
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';
import { retryDelay, sleep } from '../upstream/retry-policy.js';

/** One answer to a Range request: the status and headers that decide what its body is. */
export interface RangeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump?: () => Promise<void> };
}

/** Asks the upstream for bytes `start`-`end` (inclusive) of the blob. */
export type RangeFetcher = (start: number, end: number, signal: AbortSignal) => Promise<RangeAnswer>;

/** When a broken or stalled connection is tried again ("Resume instead of abort"). */
export interface ResumePlan {
  size: number;
  /** Tries in a row without progress after the first. */
  resumes: number;
  /** A connection silent this long is resumed. */
  stallTimeoutMs: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export interface SegmentPlan extends ResumePlan {
  segmentBytes: number;
  /** Concurrent connections, the fill's own GET included. */
  connections: number;
}

/** Connections a fill may add beyond its own GET, shared by all fills of one upstream. */
export interface ConnectionSlots {
  tryAcquire(): boolean;
  release(): void;
}

export type SegmentState = 'waiting' | 'fetching' | 'retrying' | 'done';

export interface SegmentView {
  start: number;
  end: number;
  received: number;
  state: SegmentState;
  tries: number;
}

export interface Segment {
  start: number;
  /** Exclusive. */
  end: number;
  /** Next byte to receive (absolute offset). */
  next: number;
  /** Received bytes not yet handed on and not in the temp file, in order after `diskEnd`. */
  chunks: Buffer[];
  /** Bytes in `chunks`. */
  heldBytes: number;
  /** Bytes from `start` up to here are in the temp file (ahead of the prefix when they arrived). */
  diskEnd: number;
  /** A write to the temp file is running: its bytes come before any later ones. */
  writing: boolean;
  state: SegmentState;
  claimed: boolean;
  tries: number;
}

/** The blob cut into segments of the plan's size; the last one may be shorter. */
export function cutSegments(plan: SegmentPlan): Segment[] {
  const segments: Segment[] = [];
  for (let start = 0; start < plan.size; start += plan.segmentBytes) {
    const end = Math.min(plan.size, start + plan.segmentBytes);
    segments.push({ start, end, next: start, chunks: [], heldBytes: 0, diskEnd: start, writing: false, state: 'waiting', claimed: false, tries: 0 });
  }
  return segments;
}

export function viewOf(s: Segment): SegmentView {
  return { start: s.start, end: s.end - 1, received: s.next - s.start, state: s.state, tries: s.tries };
}

/** Answers no retry can mend (a wrong range, too many bytes): the fill fails at once. */
const fatal = new WeakSet<Error>();

export function fatalError(message: string, cause?: unknown): RegistryError {
  const err = new RegistryError('UPSTREAM_INVALID', message, cause === undefined ? {} : { cause });
  fatal.add(err);
  return err;
}

export function isFatal(err: unknown): boolean {
  return err instanceof Error && fatal.has(err);
}

/**
 * A failed try of a connection that was at byte `at`: the tries in a row without progress so far (a try that
 * brought bytes starts the count again), or the error that ends the fill: a fatal one as it is, or UNAVAILABLE
 * past `plan.resumes` tries without progress.
 */
export function countFailure(plan: ResumePlan, err: unknown, failures: number, progressed: boolean, at: number): number {
  if (isFatal(err)) throw err;
  const count = progressed ? 1 : failures + 1;
  if (count > plan.resumes) throw new RegistryError('UNAVAILABLE', `upstream kept failing at byte ${at} of ${plan.size}`, { cause: err });
  return count;
}

/** The wait before the next try, after `failures` in a row, between the upstream's retry delays; ends early on `signal`. */
export async function resumeBackoff(plan: ResumePlan, failures: number, signal: AbortSignal): Promise<void> {
  const { minDelayMs, maxDelayMs } = plan;
  const ms = retryDelay({ attempts: Infinity, minDelayMs, maxDelayMs }, failures, undefined) ?? maxDelayMs;
  await sleep(ms, signal).catch(() => undefined);
}
