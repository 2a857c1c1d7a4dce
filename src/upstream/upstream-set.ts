// The configured upstreams and the router over them, replaceable while requests run: a config reload builds
// Upstream objects only for entries that changed, keeps the others (their tokens, pools and rate-limit record),
// and closes a replaced one once its requests in flight are done (undici's close is graceful).
import type { UpstreamConfig } from '../config/config.js';
import { UpstreamRouter } from './router.js';
import type { Upstream } from './upstream.js';

export class UpstreamSet {
  private current: Upstream[];
  private currentRouter: UpstreamRouter;

  constructor(
    configs: readonly UpstreamConfig[],
    private readonly build: (config: UpstreamConfig) => Upstream,
  ) {
    this.current = configs.map(build);
    this.currentRouter = new UpstreamRouter(this.current);
  }

  get list(): readonly Upstream[] {
    return this.current;
  }

  get router(): UpstreamRouter {
    return this.currentRouter;
  }

  /** Takes `configs` as the new list; entries named in `rebuild` (or new) get a new Upstream. */
  replace(configs: readonly UpstreamConfig[], rebuild: readonly string[]): void {
    const kept = new Map(this.current.filter((u) => !rebuild.includes(u.name)).map((u) => [u.name, u]));
    const previous = this.current;
    this.current = configs.map((c) => kept.get(c.name) ?? this.build(c));
    this.currentRouter = new UpstreamRouter(this.current);
    for (const u of previous) if (!this.current.includes(u)) void u.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all(this.current.map((u) => u.close()));
  }
}
