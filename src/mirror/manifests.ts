// Manifests: bytes exact, digest computed from the bytes served (ARCHITECTURE.md decision 3).
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
import type { PullContext, RegistryReply } from './reply.js';
import { readLimited } from './read-limited.js';
import { upstreamFailure } from './upstream-failure.js';

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

export async function getManifest(ctx: PullContext, req: ManifestRequest): Promise<RegistryReply> {
  const accepted = parseAccept(req.accept);
  // A tag is resolved with all four types unless the client asks for less; then its own Accept goes upstream,
  // so a narrowed answer reaches only that client.
  const accept = coversAllManifestTypes(accepted) ? fullManifestAccept : accepted.join(', ');
  if (req.method === 'HEAD') {
    const head = await headManifest(ctx, req.reference, accept);
    if (head) return manifestReply(head.digest, head.mediaType, head.length, undefined, req.ifNoneMatch);
  }
  const m = await fetchManifest(ctx, req.reference, accept);
  if (!acceptsMediaType(accepted, m.mediaType)) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest is ${m.mediaType}, which the request does not accept`);
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
  const bytes = await readLimited(res.body, maxManifestBytes, 'manifest');
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
