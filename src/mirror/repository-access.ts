// Access follows the repository (docs/security.md, "Cache access across repositories, upstreams and replicas").
// Stored content is shared by digest, but it is served for (upstream, repository) only once that upstream has
// confirmed that the repository holds it (here, or on another replica that recorded it in the bucket); in
// passthrough mode, also only after the upstream has accepted this client's credential for that repository, an
// answer remembered for the credential's lifetime.
import { createHash } from 'node:crypto';
import type { CacheIndex } from '../cache/ports.js';
import type { SharedCatalog } from '../catalog/shared-catalog.js';
import type { Digest } from '../registry/digest.js';
import { fullManifestAccept } from '../registry/media-types.js';
import type { PullContext } from './reply.js';
import { upstreamFailure } from './upstream-failure.js';

/** Opaque tokens carry no expiry; their confirmation is trusted this long. */
const opaqueLifetimeMs = 60_000;
const maxRemembered = 10_000;

export class RepositoryAccess {
  private readonly confirmed = new Map<string, number>();

  constructor(
    private readonly index: CacheIndex,
    private readonly clock: () => number,
    /** Confirmations other replicas made (several replicas on one bucket); the no-op catalog otherwise. */
    private readonly catalog?: SharedCatalog,
  ) {}

  /** Resolves when `digest` may be served from the cache for this request; throws the upstream's refusal. */
  async confirm(ctx: PullContext, kind: 'blob' | 'manifest', digest: Digest): Promise<void> {
    const linked =
      this.isLinked(kind, digest, ctx) || ((await this.catalog?.adoptLink(kind, digest, ctx.upstream.name, ctx.repository)) ?? false);
    if (ctx.upstream.mode === 'mirror' && linked) return;
    const key = ctx.upstream.mode === 'passthrough' ? this.key(ctx) : undefined;
    if (key !== undefined && linked && (this.confirmed.get(key) ?? 0) > this.clock()) return;

    const res = await ctx.upstream.fetch({
      method: 'HEAD',
      path: `/v2/${ctx.repository}/${kind === 'blob' ? 'blobs' : 'manifests'}/${digest}`,
      // distribution answers a HEAD whose Accept lacks the stored type with 404; every type is accepted here.
      headers: kind === 'manifest' ? { accept: fullManifestAccept } : {},
      repository: ctx.repository,
      ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
      signal: ctx.signal,
    });
    await res.body.dump();
    if (res.status !== 200) throw await upstreamFailure(res, ctx, kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN');
    if (kind === 'blob') this.index.linkBlob(digest, ctx.upstream.name, ctx.repository);
    else this.index.linkManifest(digest, ctx.upstream.name, ctx.repository);
    this.shareLink(kind, digest, ctx.upstream.name, ctx.repository);
    if (key !== undefined) this.remember(key, ctx.clientAuthorization);
  }

  /**
   * Whether, in passthrough mode, the upstream accepted this request's credential for its repository within the
   * credential's lifetime (an answer remembered by `confirm`), so that cached content may be served without asking
   * again. Always true in mirror mode, where the mirror's own credentials fetched what is cached.
   */
  acceptedRecently(ctx: PullContext): boolean {
    if (ctx.upstream.mode !== 'passthrough') return true;
    return (this.confirmed.get(this.key(ctx)) ?? 0) > this.clock();
  }

  /**
   * A link this replica just made from an upstream confirmation (verified bytes, or a HEAD answered 200), told to the
   * other replicas; the caller has linked it in the local index.
   */
  shareLink(kind: 'blob' | 'manifest', digest: Digest, upstream: string, repository: string): void {
    this.catalog?.linkConfirmed(kind, digest, upstream, repository);
  }

  private isLinked(kind: 'blob' | 'manifest', digest: Digest, ctx: PullContext): boolean {
    return kind === 'blob'
      ? this.index.isBlobLinked(digest, ctx.upstream.name, ctx.repository)
      : this.index.isManifestLinked(digest, ctx.upstream.name, ctx.repository);
  }

  private key(ctx: PullContext): string {
    const credential = createHash('sha256').update(ctx.clientAuthorization ?? 'anonymous').digest('hex');
    return `${credential} ${ctx.upstream.name} ${ctx.repository}`;
  }

  private remember(key: string, authorization: string | undefined): void {
    const now = this.clock();
    if (this.confirmed.size >= maxRemembered) {
      for (const [k, until] of this.confirmed) if (until <= now) this.confirmed.delete(k);
      if (this.confirmed.size >= maxRemembered) this.confirmed.clear();
    }
    this.confirmed.set(key, Math.min(jwtExpiry(authorization) ?? now + opaqueLifetimeMs, now + 3_600_000));
  }
}

/** The `exp` of a JWT bearer token, in epoch ms; undefined for anything else. */
function jwtExpiry(authorization: string | undefined): number | undefined {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
