// Prefetch: pull images into the cache ahead of the clients, by tag or digest, narrowed to chosen platforms.
// It goes through the same mirror use cases as a client pull (same fills, same verification, same cache), one
// image after another and a few blobs at a time, and reports progress per image.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { getBlob } from '../mirror/blobs.js';
import { getManifest } from '../mirror/manifests.js';
import type { PullContext } from '../mirror/reply.js';
import type { MirrorServices } from '../mirror/services.js';
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import { fullManifestAccept, isIndexType } from '../registry/media-types.js';
import { parseReference, type Reference } from '../registry/names.js';
import { tokenRealmFor } from '../upstream/realm-rewrite.js';
import type { UpstreamRouter } from '../upstream/router.js';

export interface PrefetchImageState {
  image: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  bytesDone: number;
  bytesTotal: number;
  blobsDone: number;
  blobsTotal: number;
  error?: string;
}

export interface PrefetchJobState {
  id: string;
  createdAt: number;
  state: 'running' | 'done' | 'failed';
  images: PrefetchImageState[];
}

const keepJobs = 50;
const blobsAtOnce = 3;

interface Descriptor {
  digest?: string;
  size?: number;
  mediaType?: string;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export class Prefetcher {
  private readonly jobs = new Map<string, PrefetchJobState>();
  private readonly aborts = new AbortController();

  constructor(
    private readonly services: MirrorServices,
    private readonly router: () => UpstreamRouter,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  start(images: string[], platforms: string[]): PrefetchJobState {
    const job: PrefetchJobState = {
      id: randomUUID(),
      createdAt: this.clock(),
      state: 'running',
      images: images.map((image) => ({ image, state: 'queued', bytesDone: 0, bytesTotal: 0, blobsDone: 0, blobsTotal: 0 })),
    };
    this.jobs.set(job.id, job);
    while (this.jobs.size > keepJobs) this.jobs.delete(this.jobs.keys().next().value as string);
    void this.run(job, platforms);
    return job;
  }

  get(id: string): PrefetchJobState | undefined {
    return this.jobs.get(id);
  }

  list(): PrefetchJobState[] {
    return [...this.jobs.values()].reverse();
  }

  close(): void {
    this.aborts.abort(new Error('shutting down'));
  }

  private async run(job: PrefetchJobState, platforms: string[]): Promise<void> {
    for (const image of job.images) {
      if (this.aborts.signal.aborted) break;
      image.state = 'running';
      try {
        await this.pull(image, platforms);
        image.state = 'done';
      } catch (err) {
        image.state = 'failed';
        image.error = (err as Error).message;
        this.log.warn({ image: image.image, err: image.error }, 'prefetch failed');
      }
    }
    job.state = job.images.every((i) => i.state === 'done') ? 'done' : 'failed';
  }

  private async pull(state: PrefetchImageState, platforms: string[]): Promise<void> {
    const { path, reference } = splitImage(state.image);
    const route = this.router().resolve(undefined, undefined, path);
    const ctxFor = (): PullContext => ({
      upstream: route.upstream,
      repository: route.repository,
      clientPath: path,
      tokenRealm: tokenRealmFor('http://localhost', route.upstream.name),
      signal: this.aborts.signal,
      log: {},
    });
    const manifest = async (ref: Reference): Promise<{ mediaType: string; doc: { manifests?: Descriptor[]; layers?: Descriptor[]; config?: Descriptor; blobs?: Descriptor[] } }> => {
      const reply = await getManifest(this.services, ctxFor(), { method: 'GET', reference: ref, accept: fullManifestAccept });
      const bytes = reply.body as Buffer;
      return { mediaType: reply.headers['content-type'] ?? '', doc: JSON.parse(bytes.toString('utf8')) as never };
    };
    const top = await manifest(reference);
    const images = isIndexType(top.mediaType) || Array.isArray(top.doc.manifests)
      ? await Promise.all(
          (top.doc.manifests ?? [])
            .filter((d) => wanted(d, platforms))
            .map((d) => manifest({ kind: 'digest', digest: parseDigest(String(d.digest)) })),
        )
      : [top];
    if (images.length === 0) throw new Error(`no manifest for ${platforms.join(', ')} in the index`);
    const blobs = new Map<Digest, number>();
    for (const m of images) {
      for (const d of [m.doc.config, ...(m.doc.layers ?? []), ...(m.doc.blobs ?? [])]) {
        if (d?.digest && isDigestLike(d.digest)) blobs.set(parseDigest(d.digest), Number(d.size) || 0);
      }
    }
    state.blobsTotal = blobs.size;
    state.bytesTotal = [...blobs.values()].reduce((a, b) => a + b, 0);
    const queue = [...blobs.keys()];
    const worker = async (): Promise<void> => {
      for (let digest = queue.shift(); digest; digest = queue.shift()) {
        // What it fetches is counted where fetched bytes are born (the fill), like a client's pull.
        const reply = await getBlob(this.services, ctxFor(), { method: 'GET', digest });
        for await (const chunk of reply.body as Readable) state.bytesDone += (chunk as Buffer).length;
        state.blobsDone++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(blobsAtOnce, queue.length) }, worker));
  }
}

/** `alpine`, `gcr.io/distroless/base:nonroot`, `quay.io/x/y@sha256:...` -> the mirror path and the reference. */
export function splitImage(image: string): { path: string; reference: Reference } {
  const at = image.indexOf('@');
  if (at !== -1) return { path: image.slice(0, at), reference: parseReference(image.slice(at + 1)) };
  const colon = image.lastIndexOf(':');
  const hasTag = colon > image.lastIndexOf('/');
  return { path: hasTag ? image.slice(0, colon) : image, reference: parseReference(hasTag ? image.slice(colon + 1) : 'latest') };
}

function wanted(d: Descriptor, platforms: string[]): boolean {
  const p = d.platform;
  if (!p?.os || !p.architecture || p.os === 'unknown') return false;
  if (platforms.length === 0) return true;
  return platforms.some((want) => {
    const [os, arch, variant] = want.split('/');
    return os === p.os && arch === p.architecture && (variant === undefined || variant === p.variant);
  });
}
