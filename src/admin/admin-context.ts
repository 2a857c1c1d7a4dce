// What the admin routes work with: the app's live parts, gathered once by the composition root.
import type { Logger } from 'pino';
import type { RegistryUsers } from '../access/registry-users.js';
import type { LocalCache } from '../catalog/local-cache.js';
import type { ClusterView } from '../catalog/replica-heartbeats.js';
import type { Config, UpstreamConfig } from '../config/config.js';
import type { UpstreamSet } from '../upstream/upstream-set.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Activity } from '../server/activity.js';
import type { AdminAuth } from './admin-auth.js';
import type { AdminPins } from './admin-pins.js';
import type { AuditLog } from './audit-log.js';
import type { PassthroughSources } from '../server/passthrough-sources.js';
import type { SniRouterStats } from '../server/sni-router.js';
import type { CacheBrowser } from './cache-browser.js';
import type { Prefetcher } from '../mirror/prefetch.js';
import type { Traffic } from '../metrics/traffic.js';
import type { UpstreamSources } from '../upstream/upstream-sources.js';
import type { AdminWatchEntries } from './admin-watch-entries.js';
import type { SignatureVerdicts } from '../cache/signature-verdicts.js';
import type { Watch } from '../watch/watch-service.js';

export interface AdminContext {
  config: Config;
  log: Logger;
  auth: AdminAuth;
  sources: UpstreamSources;
  upstreams: UpstreamSet;
  /** A throwaway Upstream for the test action (closed after use). */
  makeUpstream: (config: UpstreamConfig) => Upstream;
  cache: LocalCache;
  browser: CacheBrowser;
  pins: AdminPins;
  traffic: Traffic;
  /** Every state-changing admin request, by whom and how it ended. */
  audit: AuditLog;
  activity: Activity;
  prefetcher: Prefetcher;
  users: RegistryUsers;
  passthrough: PassthroughSources;
  /** The HTTPS port's counters (undefined without an HTTPS listener). */
  sniStats: () => SniRouterStats | undefined;
  /** The registry listeners' addresses once bound (for the setup page's default mirror address). */
  registryAddresses: () => { http?: string; https?: string };
  /** Watch lists and the quota governor (docs/watch.md). */
  watch: Watch;
  /** Watch entries added through the admin. */
  watchEntries: AdminWatchEntries;
  /** Signature verdicts per manifest digest (docs/signatures.md). */
  verdicts: SignatureVerdicts;
  /** The replicas sharing the bucket and their figures (undefined with disk storage). */
  cluster: () => Promise<ClusterView> | undefined;
}
