// The webhook of an upstream's watch lists (docs/watch.md): when a watched tag moves, one JSON POST to the URL in
// `upstreams[].watchWebhook`. Delivery is best effort: one try with a timeout, a failure logged, never retried, and
// never in the way of the run that found the move.
import type { Logger } from 'pino';
import { postJson } from '../upstream/post-json.js';
import type { WatchEvent } from './watch-runner.js';

const timeoutMs = 10_000;

export type TagMoved = Extract<WatchEvent, { type: 'tag-moved' }>;

/** The body the receiver gets. */
export function webhookBody(e: TagMoved, at: number): Record<string, unknown> {
  return {
    event: 'watch.tag-moved',
    at: new Date(at).toISOString(),
    entry: e.entry,
    upstream: e.upstream,
    repository: e.repository,
    tag: e.tag,
    ...(e.from ? { from: e.from } : {}),
    to: e.to,
    bytesFetched: e.bytes,
  };
}

export class WatchWebhook {
  constructor(
    private readonly urlOf: (upstream: string) => string | undefined,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  /** Sends the event when its upstream has a webhook; resolves when delivered or given up (never rejects). */
  async deliver(e: WatchEvent): Promise<void> {
    if (e.type !== 'tag-moved') return;
    const url = this.urlOf(e.upstream);
    if (!url) return;
    try {
      const status = await postJson(url, webhookBody(e, this.clock()), { timeoutMs, userAgent: 'pullgate/0.1' });
      if (status >= 300) this.log.warn({ upstream: e.upstream, entry: e.entry, status }, 'watch webhook refused the event');
    } catch (err) {
      this.log.warn({ upstream: e.upstream, entry: e.entry, reason: (err as Error).message }, 'watch webhook failed');
    }
  }
}
