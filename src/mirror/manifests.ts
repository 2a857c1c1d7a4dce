// Manifests: bytes exact, digest computed from the bytes served (docs/architecture.md, "Decision: bytes are exact").
import { createHash } from 'node:crypto';
import { RegistryError } from '../registry/errors.js';
import { digestAlgorithm, type Digest } from '../registry/digest.js';
import {
  acceptsMediaType,
  bareMediaType,
  coversAllManifestTypes,
  fullManifestAccept,
  parseAccept,
} from '../registry/media-types.js';
import { referenceString, type Reference } from '../registry/names.js';
import type { ManifestRow } from '../cache/ports.js';
import { isUpstreamTrouble, tagFreshness } from './freshness.js';
import { manifestReferences } from '../cache/manifest-references.js';
import type { PullContext, RegistryReply } from './reply.js';
import type { MirrorServices } from './services.js';
import { readCapped } from '../upstream/capped-body.js';
import { upstreamFailure } from './upstream-failure.js';
import { admitUnderPolicy } from './signature-artifacts.js';

/** containerd refuses manifests over ~4.2 MB; we allow some headroom and no more. */
export const maxManifestBytes = 8 * 1024 * 1024;

export interface ManifestRequest {
  method: 'GET' | 'HEAD';
  reference: Reference;
  accept: string | string[] | undefined;
  ifNoneMatch?: string;
}

export interface FetchedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export async function getManifest(svc: MirrorServices, ctx: PullContext, req: ManifestRequest): Promise<RegistryReply> {
  const accepted = parseAccept(req.accept);
  // A client that does not accept every manifest type gets the upstream's answer to its own Accept, and that
  // narrowed answer is never cached as the tag's (docs/protocol.md, "Manifests").
  if (req.reference.kind === 'tag' && !coversAllManifestTypes(accepted)) return passThrough(svc, ctx, req, accepted);
  const m = req.reference.kind === 'digest' ? await byDigest(svc, ctx, req.reference.digest) : await byTag(svc, ctx, req.reference.tag);
  if (!acceptsMediaType(accepted, m.mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${m.mediaType}, which the request does not accept`);
  }
  // Before any byte reaches the client, HEAD and GET alike (docs/signatures.md).
  if (svc.signatures?.applies(ctx)) {
    await admitUnderPolicy(svc, ctx, req.reference, m);
    // Stored by digest (never as the tag's) so that its blobs are known to belong to an image that passed.
    save(svc, ctx, m);
  }
  return manifestReply(m.digest, m.mediaType, m.bytes.length, req.method === 'GET' ? m.bytes : undefined, req.ifNoneMatch);
}

async function byDigest(svc: MirrorServices, ctx: PullContext, digest: Digest): Promise<FetchedManifest> {
  const row = svc.index.manifest(digest) ?? (await fromSharedCatalog(svc, ctx, digest));
  if (row) {
    await svc.access.confirm(ctx, 'manifest', digest);
    return hit(svc, ctx, row, 'HIT');
  }
  if (ctx.upstream.config.offline) throw offlineMiss(ctx);
  const m = await fetchManifest(ctx, { kind: 'digest', digest }, fullManifestAccept);
  save(svc, ctx, m);
  ctx.log.cache = 'MISS';
  return m;
}

async function byTag(svc: MirrorServices, ctx: PullContext, tag: string): Promise<FetchedManifest> {
  const { name: upstream } = ctx.upstream;
  let known = svc.index.tag(upstream, ctx.repository, tag);
  let row = known ? svc.index.manifest(known.digest) : undefined;
  let freshness = row ? tagFreshness(known?.validatedAt, ctx.upstream.config.tagTtlMs, svc.clock()) : 'unknown';
  // Another replica may know the tag, or have confirmed it since: the bucket before the upstream (docs/storage.md,
  // "The shared catalog").
  if (freshness !== 'fresh' && (await svc.catalog.adoptTag(upstream, ctx.repository, tag))) {
    known = svc.index.tag(upstream, ctx.repository, tag);
    row = known ? svc.index.manifest(known.digest) : undefined;
    freshness = row ? tagFreshness(known?.validatedAt, ctx.upstream.config.tagTtlMs, svc.clock()) : 'unknown';
  }
  if (row && (freshness === 'fresh' || ctx.upstream.config.offline)) {
    if (ctx.upstream.mode === 'passthrough') await svc.access.confirm(ctx, 'manifest', row.digest);
    return hit(svc, ctx, row, freshness === 'fresh' ? 'HIT' : 'STALE');
  }
  if (ctx.upstream.config.offline) throw offlineMiss(ctx);
  if (row) {
    // Revalidate with a HEAD: free on Docker Hub's pull limit; GET only a digest not yet cached.
    let head: Awaited<ReturnType<typeof headManifest>>;
    try {
      head = await headManifest(ctx, { kind: 'tag', tag }, fullManifestAccept);
    } catch (err) {
      if (!isUpstreamTrouble(err)) throw err;
      // In passthrough mode an upstream that cannot answer accepts no one: the stale tag goes only to a client whose
      // credential it accepted for this repository within the credential's lifetime (docs/security.md).
      if (!svc.access.acceptedRecently(ctx)) throw err;
      return hit(svc, ctx, row, 'STALE');
    }
    // A HEAD only names a digest: the cached manifest is served for it only when this upstream has already served or
    // confirmed that digest for this repository; any other digest is fetched (and verified) below.
    const current = head && (await confirmedHere(svc, ctx, head.digest)) ? svc.index.manifest(head.digest) : undefined;
    // The tag moved to an image not cached: fetching it spends a pull. Under a low quota the cached one is served.
    if (!current && head && svc.quota?.conserveLive(upstream)) return hit(svc, ctx, row, 'STALE');
    if (current) {
      svc.index.putTag(upstream, ctx.repository, tag, current.digest);
      shareTag(svc, ctx, tag, current);
      return hit(svc, ctx, current, 'REVALIDATED');
    }
  }
  let m: FetchedManifest;
  try {
    m = await fetchManifest(ctx, { kind: 'tag', tag }, fullManifestAccept);
  } catch (err) {
    if (row && isUpstreamTrouble(err)) return hit(svc, ctx, row, 'STALE');
    throw err;
  }
  save(svc, ctx, m, tag);
  ctx.log.cache = 'MISS';
  return m;
}

/** Whether `digest` is linked to this request's upstream and repository, here or (recorded) on another replica. */
async function confirmedHere(svc: MirrorServices, ctx: PullContext, digest: Digest): Promise<boolean> {
  const { name: upstream } = ctx.upstream;
  if (svc.index.isManifestLinked(digest, upstream, ctx.repository)) return true;
  return svc.catalog.adoptLink('manifest', digest, upstream, ctx.repository);
}

function hit(svc: MirrorServices, ctx: PullContext, row: ManifestRow, cache: 'HIT' | 'REVALIDATED' | 'STALE'): FetchedManifest {
  ctx.log.cache = cache;
  svc.index.touch('manifest', row.digest);
  return { digest: row.digest, mediaType: row.mediaType, bytes: row.bytes };
}

/** A full-Accept answer is stored with its references; a failing disk only stops the caching. */
function save(svc: MirrorServices, ctx: PullContext, m: FetchedManifest, tag?: string): void {
  try {
    svc.index.putManifest(m, manifestReferences(m.bytes), ctx.upstream.name, ctx.repository);
    if (tag !== undefined) svc.index.putTag(ctx.upstream.name, ctx.repository, tag, m.digest);
  } catch (err) {
    svc.caching.suspend(err);
    return;
  }
  svc.catalog.manifestStored(m);
  svc.access.shareLink('manifest', m.digest, ctx.upstream.name, ctx.repository);
  if (tag !== undefined) shareTag(svc, ctx, tag, m);
}

/** What the upstream just confirmed goes to the shared catalog too (in the background, coalesced there). */
function shareTag(svc: MirrorServices, ctx: PullContext, tag: string, m: { digest: Digest }): void {
  svc.catalog.tagValidated(ctx.upstream.name, ctx.repository, tag, m.digest, svc.clock(), ctx.upstream.config.tagTtlMs);
}

/**
 * A manifest another replica stored, recorded locally. Its repository link comes from the bucket's tags
 * of this repository (a tag a replica validated upstream confirms the manifest it names) or a link record another
 * replica wrote; without one, the usual confirmation upstream applies (docs/security.md).
 */
async function fromSharedCatalog(svc: MirrorServices, ctx: PullContext, digest: Digest): Promise<ManifestRow | undefined> {
  if (!(await svc.catalog.adoptManifest(digest))) return undefined;
  if (!svc.index.isManifestLinked(digest, ctx.upstream.name, ctx.repository)) await svc.catalog.adoptRepository(ctx.upstream.name, ctx.repository);
  return svc.index.manifest(digest);
}

function offlineMiss(ctx: PullContext): RegistryError {
  return new RegistryError('MANIFEST_UNKNOWN', `manifest not cached and upstream ${ctx.upstream.name} is offline`);
}

/** Narrow Accept on a tag: the upstream's own answer, not cached. */
async function passThrough(svc: MirrorServices, ctx: PullContext, req: ManifestRequest, accepted: string[]): Promise<RegistryReply> {
  ctx.log.cache = 'PASS';
  const accept = accepted.join(', ');
  // Under a signature policy the bytes are needed to judge them: a HEAD becomes a GET upstream.
  if (req.method === 'HEAD' && !svc.signatures?.applies(ctx)) {
    const head = await headManifest(ctx, req.reference, accept);
    if (head) return manifestReply(head.digest, head.mediaType, head.length, undefined, req.ifNoneMatch);
  }
  const m = await fetchManifest(ctx, req.reference, accept);
  if (!acceptsMediaType(accepted, m.mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${m.mediaType}, which the request does not accept`);
  }
  if (svc.signatures?.applies(ctx)) {
    await admitUnderPolicy(svc, ctx, req.reference, m);
    // Stored by digest (never as the tag's) so that its blobs are known to belong to an image that passed.
    save(svc, ctx, m);
  }
  return manifestReply(m.digest, m.mediaType, m.bytes.length, req.method === 'GET' ? m.bytes : undefined, req.ifNoneMatch);
}

function manifestReply(
  digest: Digest,
  mediaType: string,
  length: number,
  bytes: Buffer | undefined,
  ifNoneMatch: string | undefined,
): RegistryReply {
  const headers = {
    'content-type': mediaType,
    'content-length': String(length),
    'docker-content-digest': digest,
    etag: `"${digest}"`,
  };
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${digest}"`)) {
    return { status: 304, headers: { 'docker-content-digest': digest, etag: `"${digest}"` } };
  }
  return bytes ? { status: 200, headers, body: bytes } : { status: 200, headers };
}

/** A HEAD upstream (free on Docker Hub's rate limit); undefined when the answer lacks what clients need. */
async function headManifest(
  ctx: PullContext,
  reference: Reference,
  accept: string,
): Promise<{ digest: Digest; mediaType: string; length: number } | undefined> {
  const res = await upstreamManifest(ctx, reference, accept, 'HEAD');
  if (res.status !== 200) throw await upstreamFailure(res, ctx, 'MANIFEST_UNKNOWN');
  await res.body.dump();
  const digest = res.headers['docker-content-digest'];
  const mediaType = bareMediaType(headerValue(res.headers['content-type']));
  const length = Number(res.headers['content-length']);
  if (typeof digest !== 'string' || !mediaType || !isManifestType(mediaType) || !Number.isSafeInteger(length)) return undefined;
  if (reference.kind === 'digest' && digest !== reference.digest) return undefined;
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) return undefined;
  return { digest: digest as Digest, mediaType, length };
}

export async function fetchManifest(ctx: PullContext, reference: Reference, accept: string): Promise<FetchedManifest> {
  const res = await upstreamManifest(ctx, reference, accept, 'GET');
  if (res.status !== 200) throw await upstreamFailure(res, ctx, 'MANIFEST_UNKNOWN');
  const bytes = await readCapped(res.body, maxManifestBytes, 'upstream manifest', res.headers['content-length']);
  ctx.upstream.observer?.received(bytes.length);
  const algorithm = reference.kind === 'digest' ? digestAlgorithm(reference.digest) : 'sha256';
  const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
  if (reference.kind === 'digest' && digest !== reference.digest) {
    throw new RegistryError('UPSTREAM_INVALID', 'upstream manifest does not match its digest', {
      detail: { expected: reference.digest, got: digest },
    });
  }
  const mediaType = manifestMediaType(headerValue(res.headers['content-type']), bytes);
  return { digest, mediaType, bytes };
}

function upstreamManifest(ctx: PullContext, reference: Reference, accept: string, method: 'GET' | 'HEAD') {
  const started = Date.now();
  return ctx.upstream
    .fetch({
      method,
      path: `/v2/${ctx.repository}/manifests/${referenceString(reference)}`,
      headers: accept ? { accept } : {},
      repository: ctx.repository,
      ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
      signal: ctx.signal,
    })
    .then((res) => {
      ctx.log.upstreamStatus = res.status;
      ctx.log.upstreamMs = Date.now() - started;
      return res;
    });
}

// Manifest types are vendor JSON types (OCI, Docker schema2/list, artifacts) or Docker's signed schema1.
function isManifestType(t: string): boolean {
  return t.startsWith('application/vnd.') && (t.endsWith('+json') || t.endsWith('+prettyjws'));
}

/**
 * The stored type is the upstream's Content-Type; a generic one (some CDNs answer application/octet-stream or
 * text/plain, which containerd reads as schema1) is replaced by the manifest's own `mediaType` field.
 */
function manifestMediaType(contentType: string | undefined, bytes: Buffer): string {
  const bare = bareMediaType(contentType);
  if (bare && isManifestType(bare)) return bare;
  try {
    const field = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof field === 'string' && isManifestType(field)) return field;
  } catch {
    // not JSON: refused below
  }
  throw new RegistryError('UPSTREAM_INVALID', 'upstream manifest has no manifest media type');
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
