// Blobs: served from the store when cached; otherwise one fill per digest that every concurrent request follows
// (Range requests included), with headers sent as soon as the upstream answers. Without room to cache, the
// upstream stream passes through, verified (docs/architecture.md, "Decision: blobs stream, verify, then commit").
import { createHash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import type { ByteSpan } from '../cache/ports.js';
import type { Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import type { BlobFill } from './blob-fill.js';
import { redirectToStore } from './blob-redirect.js';
import { formatRange, parseRange, resolveRange, type RangeSpec } from './range.js';
import type { PullContext, RegistryReply } from './reply.js';
import type { InflightFill } from './fills.js';
import type { MirrorServices } from './services.js';
import { upstreamFailure } from './upstream-failure.js';
import { isStoredMeanwhile } from './cluster-fill-source.js';
import { isNoRoomForBlob, NoRoomForBlob } from '../cache/disk-space.js';
import { VerifyingStream } from './verifying-stream.js';
import { fillBody } from './segmented-fill.js';
import { artifactBlob } from './signature-artifacts.js';

export interface BlobRequest {
  method: 'GET' | 'HEAD';
  digest: Digest;
  range?: string;
}

/**
 * How many fills a request follows whose upstream request was refused for another context before it fetches on its
 * own, uncached (a client that keeps starting refused fills cannot hold another's pull back for ever).
 */
const maxRefusedFollows = 2;

export async function getBlob(svc: MirrorServices, ctx: PullContext, req: BlobRequest): Promise<RegistryReply> {
  // Under a signature policy, only blobs of images that passed it (docs/signatures.md).
  if (svc.signatures?.admitBlob(ctx, req.digest) === 'artifact') return artifactBlob(svc, ctx, req.method, req.digest);
  const range = parseRange(req.range);
  for (let refused = 0; ; refused++) {
    try {
      return await fromCacheOrFill(svc, ctx, req, range, refused < maxRefusedFollows);
    } catch (err) {
      // The fill this request followed was refused for its own request's context: ask again with this one.
      if (err instanceof RefusedForAnother) continue;
      if (!isStoredMeanwhile(err)) throw err;
      // Another replica committed the blob while this one was about to follow its fill.
      const size = await svc.store.stat(req.digest);
      const stored = size === undefined ? undefined : await fromStore(svc, req, range, size);
      if (!stored) throw new RegistryError('BLOB_UNKNOWN', 'blob vanished from the store just after it was committed');
      ctx.log.cache = 'HIT';
      return stored;
    }
  }
}

async function fromCacheOrFill(
  svc: MirrorServices,
  ctx: PullContext,
  req: BlobRequest,
  range: RangeSpec | undefined,
  mayFollowFills: boolean,
): Promise<RegistryReply> {
  // A fill in flight first: the blob is not stored yet, so concurrent requests ask the store nothing.
  const inflight = svc.fills.get(req.digest);
  if (inflight) return mayFollowFills ? follow(svc, ctx, req, range, inflight) : passThrough(ctx, req, range);
  const size = await svc.store.stat(req.digest);
  if (size !== undefined) {
    await svc.access.confirm(ctx, 'blob', req.digest);
    const redirected = await redirectToStore(svc, ctx, req, range, size);
    if (redirected) return redirected;
    const stored = await fromStore(svc, req, range, size);
    // undefined: evicted between stat and open; fetched again below.
    if (stored) {
      ctx.log.cache = 'HIT';
      svc.index.touch('blob', req.digest);
      return stored;
    }
  }
  // A fill may have started while the store was asked.
  const started = svc.fills.get(req.digest);
  if (started) return mayFollowFills ? follow(svc, ctx, req, range, started) : passThrough(ctx, req, range);
  if (ctx.upstream.config.offline) throw new RegistryError('BLOB_UNKNOWN', `blob not cached and upstream ${ctx.upstream.name} is offline`);
  // A HEAD never starts a fill: containerd HEADs a blob and then GETs it.
  if (req.method === 'HEAD' || !svc.caching.allowed()) return passThrough(ctx, req, range);
  ctx.log.cache = 'MISS';
  const origin = { upstream: ctx.upstream.name, repository: ctx.repository };
  const fromUpstream = () => openUpstream(svc, ctx, req.digest);
  const { cluster } = svc;
  const open = cluster
    ? async () => {
        const source = await cluster.open(req.digest, origin, fromUpstream, (holder) => mayFollow(svc, ctx, req.digest, holder.about));
        if (source.peer === undefined) return source;
        ctx.log.cache = 'PEER';
        if (!sameOrigin(ctx, source.fetchedFor)) return source;
        // The holder's upstream GET for this repository, once this replica has verified its bytes, confirms it here
        // (the holder records it in the bucket with its own commit).
        const { upstream, repository } = origin;
        return {
          ...source,
          async commit(tempPath: string) {
            svc.index.linkBlob(req.digest, upstream, repository);
            await source.commit(tempPath);
          },
        };
      }
    : fromUpstream;
  const entry = svc.fills.start(req.digest, open, origin, requestContext(ctx));
  // This request started the fill: it counts toward the client's transfers until it is over, client gone or not.
  ctx.transfer?.holdUntil(entry.fill.then((f) => f.finished));
  const fill = await followed(ctx, entry).catch(noRoom);
  return fill ? fromFill(svc, req, range, fill) : passThrough(ctx, req, range);
}

/** A fill refused for want of room (its Content-Length): undefined, and the request passes through instead. */
function noRoom(err: unknown): undefined {
  if (isNoRoomForBlob(err)) return undefined;
  throw err;
}

/** The fill an in-flight entry settles to; its refusal of another request's context is not this request's answer. */
async function followed(ctx: PullContext, inflight: InflightFill): Promise<BlobFill> {
  try {
    return await inflight.fill;
  } catch (err) {
    if (inflight.context !== requestContext(ctx) && isRefusal(err)) throw new RefusedForAnother(err);
    throw err;
  }
}

/** An upstream refusal of one request (its credential, its repository, its realm): 401, 403 or 404. */
function isRefusal(err: unknown): boolean {
  return err instanceof RegistryError && (err.status === 401 || err.status === 403 || err.status === 404);
}

/** A followed fill was refused for another request's context; this request asks again with its own. */
class RefusedForAnother extends Error {
  readonly code = 'FILL_REFUSED_FOR_ANOTHER';
  constructor(cause: unknown) {
    super('the fill followed was refused for another request', { cause });
  }
}

/**
 * What an upstream answer to a request depends on: the upstream and repository, and in passthrough mode the client's
 * credential and the realm its challenges name. Requests with equal contexts get equal answers.
 */
function requestContext(ctx: PullContext): string {
  if (ctx.upstream.mode !== 'passthrough') return `${ctx.upstream.name} ${ctx.repository}`;
  const credential = createHash('sha256').update(ctx.clientAuthorization ?? '').digest('hex');
  return `${ctx.upstream.name} ${ctx.repository} ${credential} ${ctx.tokenRealm}`;
}

/** A request for a blob whose fill is in flight follows that fill. */
async function follow(svc: MirrorServices, ctx: PullContext, req: BlobRequest, range: RangeSpec | undefined, inflight: InflightFill): Promise<RegistryReply> {
  ctx.log.cache = 'COALESCED';
  // The fill's own upstream GET for this repository is the confirmation (it links the digest once the bytes have
  // verified, and the follower gets no byte before that GET has answered 200): no HEAD of our own, which would only
  // compete with that GET while the upstream has not answered yet.
  if (!sameOrigin(ctx, inflight.origin)) await svc.access.confirm(ctx, 'blob', req.digest);
  const fill = await followed(ctx, inflight).catch(noRoom);
  return fill ? fromFill(svc, req, range, fill) : passThrough(ctx, req, range);
}

/**
 * In mirror mode the mirror's own credentials fetch everything, so a fill started for the same upstream and
 * repository answers for this request too; in passthrough mode every client's credential is checked on its own.
 */
function sameOrigin(ctx: PullContext, origin: { upstream?: string; repository?: string } | undefined): boolean {
  return ctx.upstream.mode === 'mirror' && origin?.upstream === ctx.upstream.name && origin.repository === ctx.repository;
}

/**
 * Follows the confirmation rule of a coalesced request: a holder fetching for the same repository with the same
 * credentials needs no HEAD of this request's own. Holding the lease confirms nothing yet: the digest is linked here
 * only once the holder's bytes have verified (above), and a holder whose upstream refuses leaves no link behind.
 */
async function mayFollow(svc: MirrorServices, ctx: PullContext, digest: Digest, about: Record<string, string> | undefined): Promise<void> {
  if (!sameOrigin(ctx, about)) await svc.access.confirm(ctx, 'blob', digest);
}

function headers(digest: Digest, length: number): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    'content-length': String(length),
    'docker-content-digest': digest,
    etag: `"${digest}"`,
    'accept-ranges': 'bytes',
    'cache-control': 'max-age=31536000',
  };
}

async function fromStore(svc: MirrorServices, req: BlobRequest, range: RangeSpec | undefined, size: number): Promise<RegistryReply | undefined> {
  const span = resolveRange(range, size);
  if (req.method === 'HEAD') return reply(req.digest, size, span, range !== undefined);
  if (size === 0) return { ...reply(req.digest, size, span, range !== undefined), body: Buffer.alloc(0) };
  const body = await svc.store.open(req.digest, span);
  return body ? { ...reply(req.digest, size, span, range !== undefined), body } : undefined;
}

async function fromFill(svc: MirrorServices, req: BlobRequest, range: RangeSpec | undefined, fill: BlobFill): Promise<RegistryReply> {
  const span = resolveRange(range, fill.size);
  if (req.method === 'HEAD') return reply(req.digest, fill.size, span, range !== undefined);
  const body: Readable | undefined = fill.reader(span) ?? (await svc.store.open(req.digest, span));
  if (!body) throw fill.error ?? new RegistryError('BLOB_UNKNOWN', 'blob fill failed');
  return { ...reply(req.digest, fill.size, span, range !== undefined), body };
}

/** A Range request always gets 206 with Content-Range, `bytes=0-` included (containerd's first chunk). */
function reply(digest: Digest, size: number, span: ByteSpan, ranged: boolean): RegistryReply {
  const out = headers(digest, span.end - span.start + 1);
  if (!ranged || size === 0) return { status: 200, headers: out };
  return { status: 206, headers: { ...out, 'content-range': `bytes ${span.start}-${span.end}/${size}` } };
}

/** The upstream request behind a fill: the whole blob, detached from the client that started it. */
async function openUpstream(svc: MirrorServices, ctx: PullContext, digest: Digest) {
  const started = svc.clock();
  const path = `/v2/${ctx.repository}/blobs/${digest}`;
  const res = await ctx.upstream.fetch({
    method: 'GET',
    path,
    // The fill reads the body through chunkSourceOf() (segmented-fill.ts).
    direct: true,
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
  });
  ctx.log.upstreamStatus = res.status;
  ctx.log.upstreamMs = svc.clock() - started;
  if (res.status !== 200) throw await upstreamFailure(res, ctx, 'BLOB_UNKNOWN');
  const size = Number(res.headers['content-length']);
  if (!Number.isSafeInteger(size) || size < 0) {
    res.body.destroy();
    throw new RegistryError('UPSTREAM_INVALID', 'upstream blob has no valid Content-Length');
  }
  // The announced size is a claim on the cache's room, made before a byte is written (cache/disk-space.ts).
  const release = svc.caching.reserve(size);
  if (!release) {
    res.body.destroy();
    throw new NoRoomForBlob(`${digest}: ${size} bytes announced, more than the cache has room for`);
  }
  const { name: upstream, observer } = ctx.upstream;
  const { repository } = ctx;
  const { body, attach } = fillBody(ctx, digest, path, res, size);
  return {
    size,
    body,
    // Released once the fill has every byte or has failed (fills.ts), not when this first answer's body closes: a
    // fill resumed after its first connection broke still writes up to the size it claimed.
    downloaded: release,
    ...(attach ? { attach } : {}),
    ...(observer ? { received: (bytes: number) => observer.received(bytes) } : {}),
    async commit(tempPath: string) {
      // Only verified bytes get here: the upstream's 200 for this repository is a confirmation now, not before.
      await svc.store.commit(digest, tempPath);
      svc.index.putBlob(digest, size, upstream, repository);
      svc.access.shareLink('blob', digest, upstream, repository);
      svc.caching.committed();
    },
  };
}

/** No caching (disk full) or a HEAD: the upstream answer, streamed and verified, Range passed on. */
async function passThrough(ctx: PullContext, req: BlobRequest, range: RangeSpec | undefined): Promise<RegistryReply> {
  ctx.log.cache = 'PASS';
  const started = Date.now();
  const res = await ctx.upstream.fetch({
    method: req.method,
    path: `/v2/${ctx.repository}/blobs/${req.digest}`,
    headers: range ? { range: formatRange(range) } : {},
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
    signal: ctx.signal,
  });
  ctx.log.upstreamStatus = res.status;
  ctx.log.upstreamMs = Date.now() - started;
  if (res.status !== 200 && res.status !== 206) throw await upstreamFailure(res, ctx, 'BLOB_UNKNOWN');
  const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  if (length !== undefined && !Number.isSafeInteger(length)) {
    res.body.destroy();
    throw new RegistryError('UPSTREAM_INVALID', 'upstream sent an invalid Content-Length');
  }
  const out = headers(req.digest, length ?? 0);
  if (length === undefined) delete out['content-length'];
  if (req.method === 'HEAD') {
    await res.body.dump();
    return { status: 200, headers: out };
  }
  if (res.status === 206) {
    const contentRange = res.headers['content-range'];
    if (typeof contentRange !== 'string') {
      res.body.destroy();
      throw new RegistryError('UPSTREAM_INVALID', 'upstream sent 206 without Content-Range');
    }
    // A part cannot be checked against the digest; every client verifies the whole blob it assembles.
    return { status: 206, headers: { ...out, 'content-range': contentRange }, body: res.body };
  }
  const verifier = new VerifyingStream(req.digest, length);
  pipeline(res.body, verifier, () => {});
  return { status: 200, headers: out, body: verifier };
}
