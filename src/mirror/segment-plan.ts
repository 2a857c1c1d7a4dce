// What a segmented fill is made of (docs/segmented-fills.md): the plan an upstream's settings give one blob, the
// segments it is cut into and what each has received, and the answers no retry can mend.
import type { Readable } from 'node:stream';
import { RegistryError } from '../registry/errors.js';

/** One answer to a Range request: the status and headers that decide what its body is. */
export interface RangeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump?: () => Promise<void> };
}

/** Asks the upstream for bytes `start`-`end` (inclusive) of the blob. */
export type RangeFetcher = (start: number, end: number, signal: AbortSignal) => Promise<RangeAnswer>;

export interface SegmentPlan {
  size: number;
  segmentBytes: number;
  /** Concurrent connections, the fill's own GET included (1: one stream, resumed with Range requests). */
  connections: number;
  /** Tries per segment without progress after the first. */
  resumes: number;
  stallTimeoutMs: number;
  minDelayMs: number;
  maxDelayMs: number;
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
