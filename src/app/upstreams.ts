// The upstreams step: the config file's upstreams plus those added through the admin (stored in the cache
// database), applied live to the set the router is made from; and the pull quota the upstreams announce, budgeted
// between clients and background work (docs/watch.md).
import { UpstreamSources } from '../upstream/upstream-sources.js';
import type { UpstreamConfig } from '../config/config.js';
import { UpstreamSet } from '../upstream/upstream-set.js';
import type { UpstreamRouter } from '../upstream/router.js';
import { Upstream } from '../upstream/upstream.js';
import { QuotaGovernor, reserveOf } from '../watch/quota-governor.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { Figures } from './figures.js';

export interface Upstreams {
  quota: QuotaGovernor;
  /** Builds one Upstream with the timeouts in effect (the admin's test action makes throwaway ones too). */
  makeUpstream(config: UpstreamConfig): Upstream;
  sources: UpstreamSources;
  set: UpstreamSet;
  /** The router for the next request (upstreams change live through the admin and reloads). */
  router(): UpstreamRouter;
}

export async function wireUpstreams(base: Base, parts: { cache: CacheWiring; figures: Figures }): Promise<Upstreams> {
  // The reserve follows the live upstream set, the admin's upstreams and reloads included (docs/watch.md); the set
  // is made next, before any request can reach the governor.
  const quota = new QuotaGovernor((name) => reserveOf(set.configOf(name)), base.clock);
  const makeUpstream = upstreamMaker(base, parts.figures, quota);
  // Empty until the sources have written the stored CA bundles out: then every later change is applied to it.
  const set = new UpstreamSet(makeUpstream, []);
  const sources = new UpstreamSources(parts.cache.local.db, base.secrets, base.config(), (effective, rebuild) => set.apply(effective, rebuild), base.clock);
  set.apply(await sources.start());
  return { quota, makeUpstream, sources, set, router: () => set.router() };
}

// Timeouts are read when an Upstream is built: a reload that changes them rebuilds every upstream.
function upstreamMaker(base: Base, figures: Figures, quota: QuotaGovernor): (u: UpstreamConfig) => Upstream {
  const log = base.child('upstream');
  return (u) => {
    const observer = figures.metrics.upstream(u.name);
    const { connect, headers, idle } = base.config().timeouts;
    return new Upstream(u, {
      timeouts: { connect, headers, idle },
      ...(base.givenClock ? { clock: base.givenClock } : {}),
      userAgent: 'pullgate/0.1',
      observer,
      onRateLimit: (upstream, rateLimit) => {
        observer.rateLimited(rateLimit);
        quota.observed(upstream, rateLimit);
        log.info({ upstream, ...rateLimit }, 'upstream rate limit');
      },
      onRefused: (upstream, retryAfterMs) => quota.refused(upstream, retryAfterMs),
      onFailure: (upstream, url, message) => log.warn({ upstream, url, reason: message }, 'upstream request failed'),
      onDirectFallback: (upstream, origin, reason) => log.debug({ upstream, origin, reason }, 'upstream answer not read directly, asked again through undici'),
      onCircuit: (upstream, url, change) =>
        log[change.to === 'open' ? 'warn' : 'info']({ upstream, url, circuit: change.to, from: change.from, failures: change.failures, reason: change.reason }, 'upstream circuit'),
    });
  };
}
