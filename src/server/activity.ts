// Live activity of the registry: requests as they finish (the last few kept), the fills in flight with their
// progress and rate, and watch events; the admin shows it. Also where each finished request is turned into
// traffic figures (metrics/traffic.ts), so it is fed by the core whether or not the admin listens. With several
// workers the lead's feed shows the other workers' requests and fills too (workers/machine-activity.ts).
import { EventEmitter } from 'node:events';
import type { Fills } from '../mirror/fills.js';
import type { PullLog } from '../mirror/reply.js';
import { fillSegments } from '../mirror/segmented-fill.js';
import type { SegmentView } from '../mirror/segmented-source.js';
import type { AccessInfo } from './access-log.js';
import type { WatchEvent } from '../watch/watch-runner.js';
import type { Traffic } from '../metrics/traffic.js';

/** A watch list event as the activity feed shows it (docs/watch.md): a tag moved, a run failed or was held back. */
export type WatchActivity = WatchEvent & { at: number };

export interface RequestEvent {
  at: number;
  method: string;
  upstream?: string;
  repository?: string;
  kind?: string;
  reference?: string;
  status: number;
  cache?: string;
  bytes: number;
  ms: number;
  client: string;
}

export interface FillEvent {
  digest: string;
  upstream: string;
  repository: string;
  bytesDone: number;
  bytesTotal: number | null;
  rate: number;
  startedAt: number;
  followers: number;
  /** A segmented fill's segments: byte range, bytes received, state (docs/segmented-fills.md). */
  segments?: SegmentView[];
}

export const keepRecent = 100;
// REDIRECT is a hit whose bytes the object store sent: it adds nothing to the bytes served.
const hitMarks = new Set(['HIT', 'COALESCED', 'REVALIDATED', 'STALE', 'REDIRECT']);

export class Activity {
  private readonly recentRequests: RequestEvent[] = [];
  private readonly recentWatch: WatchActivity[] = [];
  private readonly events = new EventEmitter();
  /** Last progress sample per fill, for its rate. */
  private readonly samples = new Map<string, { at: number; bytes: number; rate: number }>();
  /** The fills in flight in the machine's other worker processes, as they last told (docs/workers.md). */
  elsewhere: () => FillEvent[] = () => [];

  constructor(
    private readonly fills: Fills,
    private readonly traffic: Traffic,
    private readonly clock: () => number = Date.now,
  ) {
    this.events.setMaxListeners(0);
  }

  /** A registry response as the access log saw it (the registry server's onFinished). */
  accessFinished(info: AccessInfo, status: number, bytes: number, ms: number): void {
    this.requestFinished({
      at: this.clock(),
      method: info.method,
      ...(info.upstream ? { upstream: info.upstream } : {}),
      ...(info.repository ? { repository: info.repository } : {}),
      ...(info.kind ? { kind: info.kind } : {}),
      ...(info.reference ? { reference: info.reference } : {}),
      status,
      bytes,
      ms: Math.round(ms),
      client: info.client ?? '',
      pull: info.pull,
    });
  }

  /** Called once per finished registry request, with what its access-log line says. */
  requestFinished(e: RequestEvent & { pull: PullLog }): void {
    const { pull, ...event } = e;
    const view: RequestEvent = { ...event, ...(pull.cache ? { cache: pull.cache } : {}) };
    this.recentRequests.push(view);
    if (this.recentRequests.length > keepRecent) this.recentRequests.shift();
    if (e.upstream && (e.kind === 'blob' || e.kind === 'manifest')) {
      this.traffic.record({
        upstream: e.upstream,
        bytesServed: e.bytes,
        ...(pull.cache ? { hit: hitMarks.has(pull.cache) } : {}),
      });
    }
    this.events.emit('request', view);
  }

  /** A request another worker process finished (its traffic figures counted there): shown as this one's are. */
  requestElsewhere(view: RequestEvent): void {
    // In the order they finished: another worker's arrive a little late.
    let i = this.recentRequests.length;
    while (i > 0 && this.recentRequests[i - 1]!.at > view.at) i--;
    this.recentRequests.splice(i, 0, view);
    if (this.recentRequests.length > keepRecent) this.recentRequests.shift();
    this.events.emit('request', view);
  }

  /** A watch list event (the watch runner's onEvent). */
  watchEvent(e: WatchEvent): void {
    const view: WatchActivity = { ...e, at: this.clock() };
    this.recentWatch.push(view);
    if (this.recentWatch.length > keepRecent) this.recentWatch.shift();
    this.events.emit('watch', view);
  }

  onWatch(listener: (e: WatchActivity) => void): () => void {
    this.events.on('watch', listener);
    return () => this.events.off('watch', listener);
  }

  /** Watch list events, newest first. */
  recentWatchEvents(): WatchActivity[] {
    return [...this.recentWatch].reverse();
  }

  onRequest(listener: (e: RequestEvent) => void): () => void {
    this.events.on('request', listener);
    return () => this.events.off('request', listener);
  }

  recent(): RequestEvent[] {
    return [...this.recentRequests].reverse();
  }

  /** The fills in flight on the machine: this process's and the other workers' (one entry per blob). */
  inflight(): FillEvent[] {
    const elsewhere = this.elsewhere();
    const own = this.ownFills();
    return elsewhere.length ? oneEntryPerBlob([...own, ...elsewhere]) : own;
  }

  /** The fills in flight in this process. */
  ownFills(): FillEvent[] {
    const now = this.clock();
    const seen = new Set<string>();
    const out = this.fills.list().map(({ fill, origin }) => {
      seen.add(fill.digest);
      const previous = this.samples.get(fill.digest);
      let rate = previous?.rate ?? 0;
      if (!previous) rate = fill.received / Math.max(0.001, (now - fill.startedAt) / 1000);
      else if (now - previous.at >= 500) rate = (fill.received - previous.bytes) / ((now - previous.at) / 1000);
      if (!previous || now - previous.at >= 500) this.samples.set(fill.digest, { at: now, bytes: fill.received, rate });
      return {
        digest: fill.digest,
        upstream: origin?.upstream ?? '',
        repository: origin?.repository ?? '',
        bytesDone: fill.received,
        bytesTotal: Number.isFinite(fill.size) && fill.size >= 0 ? fill.size : null,
        rate: Math.max(0, Math.round(rate)),
        startedAt: fill.startedAt,
        followers: fill.followers,
        ...withSegments(fillSegments(fill.digest)),
      };
    });
    for (const digest of this.samples.keys()) if (!seen.has(digest)) this.samples.delete(digest);
    return out;
  }
}

/**
 * With several workers, a blob being filled is in flight in the worker holding its fill and in each worker following
 * it (each follows with a fill of its own, fed from the holder: docs/workers.md). The entry shown is the one furthest
 * along (the holder's); its followers are every worker's clients reading it, without the holder's reader for each
 * following worker.
 */
function oneEntryPerBlob(fills: FillEvent[]): FillEvent[] {
  const byDigest = new Map<string, FillEvent[]>();
  for (const f of fills) byDigest.set(f.digest, [...(byDigest.get(f.digest) ?? []), f]);
  return [...byDigest.values()].map((entries) => {
    const ahead = entries.reduce((a, b) => (b.bytesDone > a.bytesDone ? b : a));
    const followers = entries.reduce((n, f) => n + f.followers, 0) - (entries.length - 1);
    return { ...ahead, followers: Math.max(0, followers) };
  });
}

function withSegments(segments: SegmentView[] | undefined): { segments?: SegmentView[] } {
  return segments ? { segments } : {};
}
