// Whether and how a fill's upstream GET becomes a segmented fetch (docs/segmented-fills.md): a blob of at least
// the upstream's threshold is fetched as concurrent Range requests to the URL the GET was redirected to (resolved
// once per fill; asked again through the registry when it has expired), with the segment connections of all
// fills of one upstream bounded together; a smaller blob is one stream, resumed with a Range request when its
// connection breaks (resuming-chunks.ts). Segmented fills in flight are listed by digest for the admin. Every
// request of a fill asks for a direct read (`direct`): the fill reads each body through chunkSourceOf().
import { defaultSegmentSettings } from '../config/config.js';
import type { Digest } from '../registry/digest.js';
import type { BlobFill } from './blob-fill.js';
import type { UpstreamResponse } from '../upstream/exchange.js';
import type { RemoteRegistry } from './remote-registry.js';
import type { PullContext } from './reply.js';
import { ResumingChunks } from './resuming-chunks.js';
import { chunkSourceOf, readableChunks, type ChunkSource } from '../upstream/chunk-source.js';
import { SegmentedSource, type ConnectionSlots, type RangeFetcher, type SegmentView } from './segmented-source.js';

/** A resolved URL that answers these has expired (a signed CDN URL) or moved: resolve it again through the registry. */
const expiredStatuses = new Set([301, 302, 303, 307, 308, 400, 401, 403, 404, 410]);

class Slots implements ConnectionSlots {
  private used = 0;
  constructor(private readonly max: () => number) {}
  tryAcquire(): boolean {
    if (this.used >= this.max()) return false;
    this.used++;
    return true;
  }
  release(): void {
    this.used--;
  }
}

const slotsByUpstream = new WeakMap<RemoteRegistry, Slots>();
const inflight = new Map<Digest, SegmentedSource>();

/** The fill's body, and what the fill is told once it exists (a segmented source writes ahead to its temp file). */
export interface FillBody {
  body: ChunkSource;
  attach?: (fill: BlobFill) => void;
}

/** The segments of a segmented fill in flight, for the admin; undefined for a fill fetched as one stream. */
export function fillSegments(digest: Digest): SegmentView[] | undefined {
  return inflight.get(digest)?.view();
}

function slotsOf(upstream: RemoteRegistry): Slots {
  let slots = slotsByUpstream.get(upstream);
  if (!slots) {
    slots = new Slots(() => (upstream.config.segments ?? defaultSegmentSettings).maxConnections);
    slotsByUpstream.set(upstream, slots);
  }
  return slots;
}

/**
 * The Range requests of one fill: to the URL its GET was redirected to, through the registry again once that expired.
 * A segmented fill's are `segment` requests (exchange.ts): not in the line of direct reads its own GET holds a slot of.
 */
function rangeFetcher(ctx: PullContext, path: string, res: UpstreamResponse, segment: boolean): RangeFetcher {
  const upstream = ctx.upstream;
  const base = {
    method: 'GET' as const,
    path,
    direct: true,
    ...(segment ? { segment } : {}),
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
  };
  let resolved: URL | undefined = res.url;
  let via = res.via;
  return async (start, end, signal) => {
    const req = { ...base, headers: { range: `bytes=${start}-${end}` }, signal };
    const url = resolved;
    if (url) {
      const answer = await upstream.fetchResolved(url, req, via);
      if (!expiredStatuses.has(answer.status)) return answer;
      await answer.body.dump().catch(() => undefined);
      if (resolved === url) resolved = undefined;
    }
    // Through the registry again (redirects followed, retries): a fresh URL for the next segments.
    const answer = await upstream.fetch(req);
    if (answer.status === 200 || answer.status === 206) ({ url: resolved, via } = answer);
    return answer;
  };
}

/**
 * The body a fill reads: for a blob big enough, a segmented source that starts with the upstream answer; for any
 * other, a one-stream source that resumes a broken connection with a Range request (docs/segmented-fills.md,
 * "Resume instead of abort"). `res` is the 200 answer to the fill's GET of `path`.
 */
export function fillBody(ctx: PullContext, digest: Digest, path: string, res: UpstreamResponse, size: number): FillBody {
  const settings = ctx.upstream.config.segments ?? defaultSegmentSettings;
  const segmented = settings.connections >= 2 && size >= settings.thresholdBytes && size > settings.sizeBytes;
  if (size === 0 || (!segmented && settings.resumes === 0)) return { body: chunkSourceOf(res.body) };
  const upstream = ctx.upstream;
  const { retries } = upstream.config;
  const resume = { size, resumes: settings.resumes, stallTimeoutMs: settings.stallTimeoutMs, minDelayMs: retries.minDelayMs, maxDelayMs: retries.maxDelayMs };
  const observer = upstream.observer;
  if (!segmented) {
    const source = new ResumingChunks(res.body, resume, rangeFetcher(ctx, path, res, false));
    source.onResume = () => observer?.fillResumed?.();
    ctx.log.fill = {
      segments: 1,
      get resumes() {
        return source.resumes;
      },
    };
    return { body: source };
  }
  const source = new SegmentedSource(res.body, { ...resume, segmentBytes: settings.sizeBytes, connections: settings.connections }, rangeFetcher(ctx, path, res, true), slotsOf(upstream));
  source.onResume = () => observer?.fillResumed?.();
  ctx.log.fill = {
    get segments() {
      return source.segmentCount;
    },
    get resumes() {
      return source.resumes;
    },
  };
  inflight.set(digest, source);
  source.once('close', () => {
    if (inflight.get(digest) === source) inflight.delete(digest);
    observer?.fillSegments?.(source.segmentCount);
  });
  return { body: readableChunks(source), attach: (fill) => source.useFile(fill.file) };
}
