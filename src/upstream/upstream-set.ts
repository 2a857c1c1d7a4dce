// The upstreams the mirror routes to right now. The admin adds, edits and disables upstreams, and a config reload
// changes the file's, while the mirror runs: `apply` builds a new router for the next request, keeping the Upstream (its connection pool, tokens and
// health) of every upstream whose settings did not change, and closing the others once their requests are done.
import type { UpstreamConfig } from '../config/config.js';
import { UpstreamRouter } from './router.js';
import type { Upstream } from './upstream.js';

const settingsKey = (c: UpstreamConfig): string => JSON.stringify({ ...c, url: c.url.href });

export class UpstreamSet {
  private current: UpstreamRouter;
  private byName = new Map<string, { key: string; upstream: Upstream }>();

  constructor(
    private readonly make: (config: UpstreamConfig) => Upstream,
    configs: readonly UpstreamConfig[],
  ) {
    this.current = this.build(configs);
  }

  router(): UpstreamRouter {
    return this.current;
  }

  all(): readonly Upstream[] {
    return this.current.upstreams;
  }

  /** The settings in effect for an upstream (the config file's or the admin's, after every reload and change). */
  configOf(name: string): UpstreamConfig | undefined {
    return this.byName.get(name)?.upstream.config;
  }

  /** Routes to `configs` from the next request on; `rebuild` names upstreams to build anew even if unchanged. */
  apply(configs: readonly UpstreamConfig[], rebuild: readonly string[] = []): void {
    const previous = new Map([...this.byName].filter(([name]) => !rebuild.includes(name)));
    const all = this.byName;
    this.current = this.build(configs, previous);
    for (const [name, entry] of all) {
      if (this.byName.get(name)?.upstream !== entry.upstream) void entry.upstream.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((e) => e.upstream.close()));
  }

  private build(configs: readonly UpstreamConfig[], previous = new Map<string, { key: string; upstream: Upstream }>()): UpstreamRouter {
    const next = new Map<string, { key: string; upstream: Upstream }>();
    for (const config of configs) {
      const key = settingsKey(config);
      const kept = previous.get(config.name);
      next.set(config.name, kept && kept.key === key ? kept : { key, upstream: this.make(config) });
    }
    this.byName = next;
    return new UpstreamRouter([...next.values()].map((e) => e.upstream));
  }
}
