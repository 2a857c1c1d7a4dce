// The admin step: with `listen.admin`, the admin listener (API and web UI) over the app's live parts. The password
// comes from the caller (tests), PULLGATE_ADMIN_PASSWORD, `admin.passwordFile`, the stored one, or is generated.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { AdminAuth } from '../admin/admin-auth.js';
import { AuditLog } from '../admin/audit-log.js';
import { CacheBrowser } from '../admin/cache-browser.js';
import type { AccessWiring } from './access.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';
import type { ClusterWiring } from './cluster.js';
import type { Figures } from './figures.js';
import type { MirrorWiring } from './mirror.js';
import type { RegistryServers } from './servers.js';
import type { TlsWiring } from './tls.js';
import type { Upstreams } from './upstreams.js';
import type { WatchWiring } from './watch.js';

export interface AdminParts {
  cache: CacheWiring;
  figures: Figures;
  cluster: ClusterWiring;
  upstreams: Upstreams;
  access: AccessWiring;
  mirror: MirrorWiring;
  watch: WatchWiring;
  tls: TlsWiring;
  servers: RegistryServers;
  password?: string | undefined;
  /** Where the admin serves the web UI from (tests); default web/dist of this installation. */
  webDir?: string | undefined;
}

export async function wireAdmin(base: Base, parts: AdminParts): Promise<FastifyInstance | undefined> {
  const config = base.config();
  // The admin runs once per machine: in the lead worker (docs/workers.md).
  if (!config.listen.admin || !base.lead) return undefined;
  const { local, pins } = parts.cache;
  const { traffic, activity } = parts.figures;
  const { sources, set, makeUpstream } = parts.upstreams;
  const { sni, bound } = parts.servers;
  const { sharedView } = parts.cluster;
  const log = base.child('admin');
  const password = parts.password ?? process.env.PULLGATE_ADMIN_PASSWORD ?? (config.admin.passwordFile ? await readPasswordFile(config.admin.passwordFile) : undefined);
  const auth = new AdminAuth(local.db, log, { ...(password !== undefined ? { password } : {}), sessionTtlMs: config.admin.sessionTtlMs, clock: base.clock });
  await auth.init();
  // Loaded only when the admin is configured (@fastify/static and the UI's serving).
  const { buildAdminServer } = await import('../admin/admin-server.js');
  return buildAdminServer(
    {
      get config() {
        return base.config();
      },
      log,
      auth,
      sources,
      upstreams: set,
      makeUpstream,
      cache: local,
      browser: new CacheBrowser(local.db, () => local.policy.pins),
      pins,
      traffic,
      audit: new AuditLog(local.db, base.clock),
      activity,
      prefetcher: parts.watch.prefetcher,
      users: parts.access.users,
      passthrough: parts.tls.passthroughSources,
      sniStats: () => sni?.stats(),
      registryAddresses: () => bound,
      cluster: () => sharedView?.heartbeats.view(),
      watch: parts.watch.watch,
      watchEntries: parts.watch.entries,
      verdicts: parts.mirror.verdicts,
    },
    parts.webDir ? { webDir: parts.webDir } : {},
  );
}

async function readPasswordFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
}
