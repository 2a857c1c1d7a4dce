// The end-to-end setup real clients pull through: one real registry (token auth, CDN redirects) with the
// fixtures pushed, and a Pullgate mirror with an HTTPS listener whose certificate comes from the same test CA.
// Three upstream entries point at that one registry: `hub` (Docker-Hub style, anonymous, the default), `corp`
// (mirror mode, the mirror holds `reader`'s credentials) and `pass` (passthrough of client credentials).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addHostsBlock, type HostsBlock } from './etc-hosts.js';
import { pushFixtures, type Fixtures } from './fixture-images.js';
import type { UpstreamInput } from '../../src/config/schema.js';
import { startMirror, type TestMirror } from './mirror-app.js';
import { startRealRegistry, type RealRegistry } from './real-registry.js';

export const mirrorNames = {
  root: 'mirror.pullgate.test',
  hub: 'hub.mirror.pullgate.test',
  corp: 'corp.mirror.pullgate.test',
  pass: 'pass.mirror.pullgate.test',
} as const;

export type MirrorName = keyof typeof mirrorNames;

/** One access line of the mirror (src/server/access-log.ts). */
export interface AccessLine {
  method: string;
  url: string;
  host?: string;
  upstream?: string;
  repository?: string;
  reference?: string;
  status: number;
  bytes: number;
  cache?: string;
  /** REDIRECT: bytes the client was sent to fetch from the object store. */
  redirectedBytes?: number;
  upstreamStatus?: number;
}

export interface PullThroughSetup {
  reg: RealRegistry;
  fixtures: Fixtures;
  mirror: TestMirror;
  /** The HTTPS listener's port. */
  port: number;
  /** A temp dir for the test's own files, removed by stop(). */
  work: string;
  /** `corp.mirror.pullgate.test:PORT` and so on. */
  at(name: MirrorName): string;
  /** The mirror's access lines so far. */
  accessLines(): AccessLine[];
  /** The mirror's log lines from `from` on, for "after this step" assertions. */
  logsSince(from: number): string[];
  /** Resets the CDN's and token server's records and returns the log positions before a step, so assertions see only that step. */
  mark(): { mirror: number; registry: number };
  /** Empties the mirror's cache, so that the next pull provably goes through to the upstream. */
  coldCache(): Promise<void>;
  /**
   * Stops the whole upstream (docker-registry, its token server and its CDN) for outage tests. Its files (the test
   * CA, the mirror's certificate, the registry storage) stay until stop(), so clients and mirrors keep trusting them.
   */
  stopUpstream(): Promise<void>;
  /**
   * Another mirror with the same upstreams and certificate on the same data directory (so the same cache), on its
   * own HTTPS port, with `upstream` settings (e.g. `tagTtl`) applied to every upstream entry. Closed by stop().
   */
  startSiblingMirror(upstream: SiblingUpstreamSettings): Promise<SiblingMirror>;
  stop(): Promise<void>;
}

export type SiblingUpstreamSettings = Pick<UpstreamInput, 'tagTtl' | 'offline'>;

export interface SiblingMirror {
  mirror: TestMirror;
  port: number;
  /** `corp.mirror.pullgate.test:PORT` and so on, with this mirror's port. */
  at(name: MirrorName): string;
  accessLines(): AccessLine[];
}

export function parseAccessLines(lines: readonly string[]): AccessLine[] {
  const out: AccessLine[] = [];
  for (const line of lines) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const entry = parsed as Partial<AccessLine> & { msg?: unknown };
    if (entry.msg === 'request' && typeof entry.url === 'string' && typeof entry.status === 'number') out.push(entry as AccessLine);
  }
  return out;
}

export const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;
export const sha256File = async (path: string): Promise<string> => sha256(await readFile(path));

/** Settings added to one upstream entry of the setup's mirror (e.g. `signatures` for `hub`). */
export type SetupUpstreamSettings = Partial<Record<'hub' | 'corp' | 'pass', Record<string, unknown>>>;

export async function startPullThroughSetup(extra: SetupUpstreamSettings = {}): Promise<PullThroughSetup> {
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const work = await mkdtemp(join(tmpdir(), 'pullgate-e2e-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const hosts: HostsBlock = await addHostsBlock(Object.values(mirrorNames));
    cleanups.push(() => hosts.remove());
    // keepDir: stopUpstream() stops the processes but leaves the CA and certificates; the dir goes at stop().
    const reg = await startRealRegistry({ keepDir: true });
    cleanups.push(() => rm(reg.dir, { recursive: true, force: true }));
    cleanups.push(() => reg.stop());
    const fixtures = await pushFixtures(reg);
    const cert = await reg.ca.issue('pullgate-mirror', Object.values(mirrorNames), ['127.0.0.1']);
    const ca = reg.caFile;
    const mirrorConfig = (settings: SiblingUpstreamSettings = {}): Record<string, unknown> => ({
      listen: { http: '127.0.0.1:0', https: '127.0.0.1:0', admin: '127.0.0.1:0' },
      tls: { certificates: [{ cert: cert.certPath, key: cert.keyPath }] },
      upstreams: [
        { name: 'hub', registry: 'docker.io', url: reg.url, ca, hosts: [mirrorNames.hub], default: true, ...extra.hub, ...settings },
        {
          name: 'corp',
          registry: reg.host,
          url: reg.url,
          ca,
          hosts: [mirrorNames.corp],
          auth: { mode: 'mirror', username: 'reader', password: 'reader-secret' },
          ...extra.corp,
          ...settings,
        },
        { name: 'pass', registry: 'pass.upstream.test', url: reg.url, ca, hosts: [mirrorNames.pass], auth: { mode: 'passthrough' }, ...extra.pass, ...settings },
      ],
    });
    const mirror = await startMirror(mirrorConfig());
    cleanups.push(() => mirror.close());
    if (mirror.httpsUrl === undefined) throw new Error('the mirror did not start its HTTPS listener');
    const port = Number(new URL(mirror.httpsUrl).port);
    return {
      reg,
      fixtures,
      mirror,
      port,
      work,
      at: (name) => `${mirrorNames[name]}:${port}`,
      accessLines: () => parseAccessLines(mirror.logs),
      logsSince: (from) => mirror.logs.slice(from),
      coldCache: async () => {
        const { index, store } = mirror.app.cache;
        for (const upstream of mirror.app.config.upstreams) {
          const { removedBlobs } = index.purge({ upstream: upstream.name });
          await Promise.all(removedBlobs.map((d) => store.remove(d)));
        }
      },
      mark: () => {
        reg.cdn.reset();
        reg.tokenServer.reset();
        return { mirror: mirror.logs.length, registry: reg.logs().length };
      },
      stopUpstream: () => reg.stop(),
      startSiblingMirror: async (settings) => {
        const sibling = await startMirror(mirrorConfig(settings), { dataDir: mirror.dataDir });
        cleanups.push(() => sibling.close());
        if (sibling.httpsUrl === undefined) throw new Error('the sibling mirror did not start its HTTPS listener');
        const siblingPort = Number(new URL(sibling.httpsUrl).port);
        return {
          mirror: sibling,
          port: siblingPort,
          at: (name) => `${mirrorNames[name]}:${siblingPort}`,
          accessLines: () => parseAccessLines(sibling.logs),
        };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
