// Prefetch: pull images into the cache ahead of the clients, by tag or digest, narrowed to chosen platforms.
// It goes through the same mirror use cases as a client pull (same fills, same verification, same cache), one
// image after another and a few blobs at a time, and reports progress per image. A job can be cancelled (the image
// being fetched stops, the queued ones are skipped) and retried (its failed and cancelled images, as a new job).
// Errors name the upstream and registry they came from.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { getBlob } from './blobs.js';
import { getManifest } from './manifests.js';
import type { PullContext } from './reply.js';
import type { MirrorServices } from './services.js';
import { isDigestLike, parseDigest, type Digest } from '../registry/digest.js';
import { fullManifestAccept, isIndexType } from '../registry/media-types.js';
import { parseReference, type Reference } from '../registry/names.js';
import { tokenRealmFor } from '../upstream/realm-rewrite.js';
import type { UpstreamRouter } from '../upstream/router.js';

export interface PrefetchImageState {
  image: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  upstream?: string;
  bytesDone: number;
  bytesTotal: number;
  blobsDone: number;
  blobsTotal: number;
  error?: string;
}

export interface PrefetchJobState {
  id: string;
  createdAt: number;
  state: 'running' | 'done' | 'partial' | 'failed' | 'cancelled';
  platforms: string[];
  images: PrefetchImageState[];
}

/** What a job ended as, from its images: done, failed, cancelled, or partial for a mix with some done. */
export function jobOutcome(images: readonly PrefetchImageState[]): PrefetchJobState['state'] {
  if (images.some((i) => i.state === 'queued' || i.state === 'running')) return 'running';
  if (images.every((i) => i.state === 'done')) return 'done';
  if (images.some((i) => i.state === 'done')) return 'partial';
  return images.some((i) => i.state === 'failed') ? 'failed' : 'cancelled';
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
  private readonly jobAborts = new Map<string, AbortController>();

  constructor(
    private readonly services: MirrorServices,
    private readonly router: () => UpstreamRouter,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    /** Bytes a job had fetched from an upstream (not those it found in the cache). */
    private readonly onFetched: (upstream: string, bytes: number) => void = () => undefined,
  ) {}

  start(images: string[], platforms: string[]): PrefetchJobState {
    const job: PrefetchJobState = {
      id: randomUUID(),
      createdAt: this.clock(),
      state: 'running',
      platforms,
      images: images.map((image) => ({ image, state: 'queued', bytesDone: 0, bytesTotal: 0, blobsDone: 0, blobsTotal: 0 })),
    };
    this.jobs.set(job.id, job);
    while (this.jobs.size > keepJobs) this.jobs.delete(this.jobs.keys().next().value as string);
    const abort = new AbortController();
    this.jobAborts.set(job.id, abort);
    void this.run(job, platforms, AbortSignal.any([this.aborts.signal, abort.signal])).finally(() => this.jobAborts.delete(job.id));
    return job;
  }

  /** Stops a running job: the image being fetched fails as cancelled, the queued ones are skipped. */
  cancel(id: string): PrefetchJobState | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    this.jobAborts.get(id)?.abort(new Error('cancelled'));
    for (const image of job.images) if (image.state === 'queued' || image.state === 'running') image.state = 'cancelled';
    job.state = jobOutcome(job.images);
    return job;
  }

  /** A new job for the images of `id` that did not finish (failed or cancelled), on the same platforms. */
  retry(id: string): PrefetchJobState | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const again = job.images.filter((i) => i.state === 'failed' || i.state === 'cancelled').map((i) => i.image);
    return again.length ? this.start(again, job.platforms) : undefined;
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

  private async run(job: PrefetchJobState, platforms: string[], signal: AbortSignal): Promise<void> {
    for (const image of job.images) {
      if (signal.aborted) break;
      if (image.state !== 'queued') continue;
      image.state = 'running';
      try {
        await this.pull(image, platforms, signal);
        image.state = 'done';
      } catch (err) {
        if (signal.aborted) {
          image.state = 'cancelled';
          continue;
        }
        image.state = 'failed';
        image.error = (err as Error).message;
        this.log.warn({ image: image.image, err: image.error }, 'prefetch failed');
      }
    }
    for (const image of job.images) if (image.state === 'queued' || image.state === 'running') image.state = 'cancelled';
    job.state = jobOutcome(job.images);
  }

  private async pull(state: PrefetchImageState, platforms: string[], signal: AbortSignal): Promise<void> {
    const { path, reference } = splitImage(state.image);
    const route = this.router().resolve(undefined, undefined, path);
    state.upstream = route.upstream.name;
    const ctxFor = (): PullContext => ({
      upstream: route.upstream,
      repository: route.repository,
      clientPath: path,
      tokenRealm: tokenRealmFor('http://localhost', route.upstream.name),
      signal,
      log: {},
    });
    try {
      await this.pullFrom(state, platforms, reference, ctxFor);
    } catch (err) {
      // "manifest unknown" alone does not say where: name the upstream, its registry and the repository asked.
      const where = `${route.upstream.name} (${route.upstream.config.registry}), repository ${route.repository}`;
      throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async pullFrom(state: PrefetchImageState, platforms: string[], reference: Reference, ctxFor: () => PullContext): Promise<void> {
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
        const ctx = ctxFor();
        const reply = await getBlob(this.services, ctx, { method: 'GET', digest });
        let bytes = 0;
        for await (const chunk of reply.body as Readable) {
          bytes += (chunk as Buffer).length;
          state.bytesDone += (chunk as Buffer).length;
        }
        state.blobsDone++;
        // Bytes the cache had already are not prefetched: only what went to the upstream for this job.
        if (ctx.log.cache !== 'HIT' && ctx.log.cache !== 'REDIRECT') this.onFetched(ctx.upstream.name, bytes);
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
