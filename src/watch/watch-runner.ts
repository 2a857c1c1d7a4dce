// One run of one watch entry (docs/watch.md): resolve each followed tag with one HEAD (free on Docker Hub's pull
// limit), and only when it names a digest not yet cached fetch that image through the ordinary fill path; record
// what changed. A 429 pauses the upstream's background work; a quota below the reserve stops the run.
import type { Logger } from 'pino';
import type { WatchState } from '../cache/watch-state.js';
import type { WatchEntryConfig } from '../config/watch.js';
import type { PullContext } from '../mirror/reply.js';
import type { MirrorServices } from '../mirror/services.js';
import { readCapped } from '../upstream/capped-body.js';
import { upstreamFailure } from '../mirror/upstream-failure.js';
import { RegistryError } from '../registry/errors.js';
import { fullManifestAccept } from '../registry/media-types.js';
import type { Digest } from '../registry/digest.js';
import { upstreamRepository, type UpstreamRouter } from '../upstream/router.js';
import { parseRetryAfter } from '../upstream/retry-policy.js';
import { tokenRealmFor } from '../upstream/realm-rewrite.js';
import { fetchImage, platformName } from './image-fetch.js';
import type { QuotaGovernor } from './quota-governor.js';
import { needsTagList, selectTags } from './tag-selection.js';

export interface WatchEntry {
  /** Stable id: `upstream/repository:tag,tag`. */
  id: string;
  upstream: string;
  config: WatchEntryConfig;
}

export const watchEntryId = (upstream: string, c: Pick<WatchEntryConfig, 'repository' | 'tags'>): string => `${upstream}/${c.repository}:${c.tags.join(',')}`;

export type WatchEvent =
  | { type: 'tag-moved'; entry: string; upstream: string; repository: string; tag: string; from?: string; to: string; bytes: number }
  | { type: 'run-failed'; entry: string; upstream: string; message: string }
  | { type: 'run-held'; entry: string; upstream: string; message: string };

export interface RunResult {
  result: 'ok' | 'failed' | 'held';
  changed: number;
  bytes: number;
  /** Tags matching the entry's patterns left out by its `maxTags` cap. */
  skipped?: number;
  message?: string;
}

/** The governor stopped a run part-way (not a failure). */
class HeldBack extends Error {}

const maxTagPages = 20;
const maxTagListBytes = 4 * 1024 * 1024;

export class WatchRunner {
  constructor(
    private readonly services: MirrorServices,
    private readonly router: () => UpstreamRouter,
    private readonly state: WatchState,
    private readonly governor: QuotaGovernor,
    private readonly log: Logger,
    private readonly clock: () => number,
    private readonly onEvent: (e: WatchEvent) => void = () => undefined,
    /** Told every run's result (the metrics count them by result). */
    private readonly onRun: (entry: WatchEntry, result: RunResult) => void = () => undefined,
  ) {}

  async run(entry: WatchEntry, signal: AbortSignal): Promise<RunResult> {
    const started = this.clock();
    const runId = this.state.startRun(entry.id, started);
    let result: RunResult;
    try {
      result = await this.runTags(entry, signal);
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof RegistryError && err.code === 'TOOMANYREQUESTS') {
        this.governor.refused(entry.upstream, parseRetryAfter(err.headers['retry-after'] as string | undefined, this.clock()));
        result = { result: 'held', changed: 0, bytes: 0, message: `the upstream refused with 429: ${message}` };
      } else {
        result = { result: 'failed', changed: 0, bytes: 0, message };
      }
    }
    this.state.finishRun(runId, entry.id, this.clock(), { ...result, skipped: result.skipped ?? 0 });
    this.onRun(entry, result);
    if (result.result === 'failed') {
      this.log.warn({ entry: entry.id, reason: result.message }, 'watch run failed');
      this.onEvent({ type: 'run-failed', entry: entry.id, upstream: entry.upstream, message: result.message ?? '' });
    } else if (result.result === 'held') {
      this.log.info({ entry: entry.id, reason: result.message }, 'watch run held back');
      this.onEvent({ type: 'run-held', entry: entry.id, upstream: entry.upstream, message: result.message ?? '' });
    }
    return result;
  }

  private context(entry: WatchEntry, signal: AbortSignal): () => PullContext {
    const upstream = this.router().named(entry.upstream);
    if (!upstream) throw new RegistryError('NAME_UNKNOWN', `no upstream named ${entry.upstream}`);
    const repository = upstreamRepository(upstream, entry.config.repository);
    return () => ({ upstream, repository, clientPath: repository, tokenRealm: tokenRealmFor('http://localhost', upstream.name), signal, log: {} });
  }

  private async runTags(entry: WatchEntry, signal: AbortSignal): Promise<RunResult> {
    if (!this.governor.mayRunBackground(entry.upstream)) return { result: 'held', changed: 0, bytes: 0, message: this.heldBecause(entry.upstream) };
    const ctx = this.context(entry, signal);
    const { tags, skipped } = needsTagList(entry.config.tags)
      ? selectTags(entry.config.tags, await this.listTags(ctx()), entry.config.newest, entry.config.maxTags)
      : { tags: entry.config.tags, skipped: 0 };
    if (skipped > 0) this.log.warn({ entry: entry.id, following: tags.length, skipped, maxTags: entry.config.maxTags }, 'watch entry matches more tags than its maxTags');
    // What the entry follows now: a tag that left the selection keeps no digest from eviction any more.
    this.state.keepOnlyTags(entry.id, tags);
    const result = await this.followTags(entry, ctx, tags, signal);
    return skipped > 0 ? { ...result, skipped } : result;
  }

  private async followTags(entry: WatchEntry, ctx: () => PullContext, tags: readonly string[], signal: AbortSignal): Promise<RunResult> {
    let changed = 0;
    let bytes = 0;
    const errors: string[] = [];
    for (const tag of tags) {
      if (signal.aborted) break;
      // A HEAD is free on Docker Hub, a GET of a new manifest is not: ask the governor before each tag.
      if (!this.governor.mayRunBackground(entry.upstream)) return { result: 'held', changed, bytes, message: `stopped before ${tag}: ${this.heldBecause(entry.upstream)}` };
      try {
        const moved = await this.followTag(entry, ctx, tag);
        if (moved) changed++;
        bytes += moved?.bytes ?? 0;
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'TOOMANYREQUESTS') throw err;
        if (err instanceof HeldBack) return { result: 'held', changed, bytes, message: err.message };
        errors.push(`${tag}: ${(err as Error).message}`);
        const previous = this.state.tag(entry.id, tag);
        this.state.putTag({ entry: entry.id, upstream: entry.upstream, repository: entry.config.repository, tag, digest: previous?.digest ?? null, changedAt: previous?.changedAt ?? null, checkedAt: this.clock(), bytesFetched: previous?.bytesFetched ?? 0, error: (err as Error).message });
      }
    }
    if (errors.length > 0) return { result: 'failed', changed, bytes, message: errors.join('; ') };
    return { result: 'ok', changed, bytes };
  }

  private heldBecause(upstream: string): string {
    const v = this.governor.view(upstream);
    if (v.pausedUntil !== undefined && v.pausedUntil > this.clock()) return `paused after a 429 until ${new Date(v.pausedUntil).toISOString()}`;
    return `the upstream quota (${v.remaining ?? '?'} left) is below the reserve of ${v.reserve} kept for clients`;
  }

  /** Resolves `tag` with a HEAD; fetches the image when the digest is new to the cache. */
  private async followTag(entry: WatchEntry, ctx: () => PullContext, tag: string): Promise<{ bytes: number } | undefined> {
    const c = ctx();
    const res = await c.upstream.fetch({ method: 'HEAD', path: `/v2/${c.repository}/manifests/${tag}`, headers: { accept: fullManifestAccept }, repository: c.repository, signal: c.signal });
    await res.body.dump();
    if (res.status !== 200) throw await upstreamFailure(res, c, 'MANIFEST_UNKNOWN');
    const digest = res.headers['docker-content-digest'];
    if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new RegistryError('UPSTREAM_INVALID', `the upstream's HEAD of ${tag} named no digest`);
    const now = this.clock();
    const previous = this.state.tag(entry.id, tag);
    const platforms = entry.config.platforms.length > 0 ? entry.config.platforms : this.pulledPlatforms(previous?.digest ?? this.services.index.tag(entry.upstream, c.repository, tag)?.digest);
    const cached = this.services.index.manifest(digest as Digest) !== undefined;
    // The HEAD was free and brought the upstream's current figure; fetching a new manifest is not.
    if (!cached && !this.governor.mayRunBackground(entry.upstream)) throw new HeldBack(`${tag} moved to ${digest}; the upstream quota is below the reserve`);
    let fetched = { bytesFetched: 0 };
    if (!cached || previous?.digest !== digest) {
      // Through the ordinary use cases: by digest, so no second HEAD; then the tag is recorded as confirmed.
      fetched = await fetchImage(this.services, ctx, { kind: 'digest', digest: digest as Digest }, platforms);
    }
    this.services.index.putTag(entry.upstream, c.repository, tag, digest as Digest);
    this.services.catalog.tagValidated(entry.upstream, c.repository, tag, digest as Digest, now, c.upstream.config.tagTtlMs);
    this.state.seen(entry.upstream, entry.config.repository, tag, digest, now);
    const moved = previous?.digest !== digest;
    this.state.putTag({
      entry: entry.id,
      upstream: entry.upstream,
      repository: entry.config.repository,
      tag,
      digest,
      changedAt: moved ? now : (previous?.changedAt ?? now),
      checkedAt: now,
      bytesFetched: (moved ? 0 : (previous?.bytesFetched ?? 0)) + fetched.bytesFetched,
      error: null,
    });
    if (!moved) return undefined;
    this.log.info({ entry: entry.id, tag, from: previous?.digest, to: digest, bytes: fetched.bytesFetched }, 'watched tag moved');
    this.onEvent({ type: 'tag-moved', entry: entry.id, upstream: entry.upstream, repository: entry.config.repository, tag, ...(previous?.digest ? { from: previous.digest } : {}), to: digest, bytes: fetched.bytesFetched });
    return { bytes: fetched.bytesFetched };
  }

  /** The platforms the fleet pulled of the tag's previous image: the index's children that are cached. */
  private pulledPlatforms(previous: string | undefined): string[] {
    if (!previous) return [];
    const row = this.services.index.manifest(previous as Digest);
    if (!row) return [];
    try {
      const doc = JSON.parse(row.bytes.toString('utf8')) as { manifests?: { digest?: string; platform?: { os?: string; architecture?: string; variant?: string } }[] };
      return (doc.manifests ?? [])
        .filter((d) => typeof d.digest === 'string' && this.services.index.manifest(d.digest as Digest) !== undefined)
        .map((d) => platformName(d.platform))
        .filter((p): p is string => p !== undefined);
    } catch {
      return [];
    }
  }

  /** The upstream's tags of the repository, following `Link` pages (bounded). */
  private async listTags(c: PullContext): Promise<string[]> {
    const tags: string[] = [];
    let query: URLSearchParams | undefined = new URLSearchParams({ n: '1000' });
    for (let page = 0; page < maxTagPages && query; page++) {
      const res = await c.upstream.fetch({ method: 'GET', path: `/v2/${c.repository}/tags/list`, query, repository: c.repository, signal: c.signal });
      if (res.status !== 200) throw await upstreamFailure(res, c, 'NAME_UNKNOWN');
      const body = JSON.parse((await readCapped(res.body, maxTagListBytes, 'upstream tag list', res.headers['content-length'])).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(body.tags)) tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      const link = res.headers['link'];
      const next = typeof link === 'string' ? /<[^>]*\?([^>]*)>;\s*rel="?next"?/.exec(link)?.[1] : undefined;
      query = next ? new URLSearchParams(next) : undefined;
    }
    return tags;
  }
}
