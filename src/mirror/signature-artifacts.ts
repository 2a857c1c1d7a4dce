// Signature artifacts through a repository under a signature policy (docs/signatures.md, "Signature artifacts";
// the rule itself is signature/signature-artifact.ts): such a manifest is served without a signature of its own
// once every blob it names has been read and found to be a signature document; each of those blobs is served only
// whole, from memory, after the same check. Anything else goes to the signature gate as usual.
import type { Readable } from 'node:stream';
import type { Digest } from '../registry/digest.js';
import { RegistryError } from '../registry/errors.js';
import type { Reference } from '../registry/names.js';
import { isSignatureDocument, maxArtifactBlobBytes, signatureArtifact } from '../signature/signature-artifact.js';
import { readCapped } from '../upstream/capped-body.js';
import type { PullContext, RegistryReply } from './reply.js';
import type { MirrorServices } from './services.js';
import { upstreamSignatureSource } from './upstream-signature-source.js';

/** Resolves when manifest `m`, requested by `reference`, may be served under the policy; throws DENIED otherwise. */
export async function admitUnderPolicy(svc: MirrorServices, ctx: PullContext, reference: Reference, m: { digest: Digest; mediaType: string; bytes: Buffer }): Promise<void> {
  const gate = svc.signatures;
  if (!gate) return;
  const shape = signatureArtifact(reference.kind === 'tag' ? reference.tag : undefined, m.mediaType, m.bytes);
  if (shape && (shape.kind === 'index' || (await allSignatureDocuments(svc, ctx, shape.blobs)))) {
    ctx.log.signature = shape.kind === 'index' ? 'artifact: referrers index' : 'artifact: signature';
    return;
  }
  // Not an artifact (or one naming a blob that is not a signature document): it needs a signature like any image.
  await gate.admitManifest(ctx, m);
}

async function allSignatureDocuments(svc: MirrorServices, ctx: PullContext, blobs: readonly { digest: string }[]): Promise<boolean> {
  for (const blob of blobs) {
    try {
      if (!isSignatureDocument((await documentBytes(svc, ctx, blob.digest as Digest)).bytes)) return false;
    } catch {
      return false; // unreadable now: judged as an image, which fails closed under enforce
    }
  }
  return true;
}

/** A blob the gate admitted only as a signature artifact's: served whole, and only when it is a signature document. */
export async function artifactBlob(svc: MirrorServices, ctx: PullContext, method: 'GET' | 'HEAD', digest: Digest): Promise<RegistryReply> {
  const { bytes, cached } = await documentBytes(svc, ctx, digest);
  ctx.log.cache = cached ? 'HIT' : 'PASS';
  if (!isSignatureDocument(bytes)) {
    throw new RegistryError('DENIED', `${ctx.repository}: blob ${digest} is named by a signature artifact but is not a signature document, and is not part of an image that passed the signature policy of upstream ${ctx.upstream.name}`);
  }
  ctx.log.signature = 'artifact: signature document';
  const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'docker-content-digest': digest };
  return method === 'GET' ? { status: 200, headers, body: bytes } : { status: 200, headers };
}

/** The blob's bytes (at most maxArtifactBlobBytes): from the store when cached, else from the upstream (not cached). */
async function documentBytes(svc: MirrorServices, ctx: PullContext, digest: Digest): Promise<{ bytes: Buffer; cached: boolean }> {
  const size = await svc.store.stat(digest);
  if (size !== undefined && size > maxArtifactBlobBytes) {
    throw new RegistryError('DENIED', `${ctx.repository}: blob ${digest} is larger than a signature document (${maxArtifactBlobBytes} bytes)`);
  }
  const stream = size === undefined ? undefined : await svc.store.open(digest);
  if (stream) return { bytes: await readCapped(stream as Readable, maxArtifactBlobBytes, 'stored signature document'), cached: true };
  if (ctx.upstream.config.offline) throw new RegistryError('BLOB_UNKNOWN', `blob not cached and upstream ${ctx.upstream.name} is offline`);
  return { bytes: await upstreamSignatureSource(ctx).blob(digest, maxArtifactBlobBytes), cached: false };
}
