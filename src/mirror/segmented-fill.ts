// Whether and how a fill's upstream GET becomes a segmented fetch (docs/segmented-fills.md): a blob of at least
// the upstream's threshold is fetched as concurrent Range requests to the URL the GET was redirected to (resolved
// once per fill; asked again through the registry when it has expired), with the segment connections of all
// fills of one upstream bounded together. Segmented fills in flight are listed by digest for the admin.
import type { Readable } from 'node:stream';
import { defaultSegmentSettings } from '../config/config.js';
import type { Digest } from '../registry/digest.js';
import type { BlobFill } from './blob-fill.js';
import type { UpstreamResponse } from '../upstream/exchange.js';
import type { RemoteRegistry } from './remote-registry.js';
import type { PullContext } from './reply.js';
import { SegmentedSource, type ConnectionSlots, type RangeAnswer, type SegmentView } from './segmented-source.js';

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

/** A segmented body writes the segments ahead of its prefix to the fill's temp file; any other body: nothing to do. */
export function attachFill(body: Readable, fill: BlobFill): void {
  if (body instanceof SegmentedSource) body.useFile(fill.file);
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
 * The body a fill reads: the upstream answer itself, or, for a blob big enough, a segmented source that starts
 * with it. `res` is the 200 answer to the fill's GET of `path`.
 */
export function fillBody(ctx: PullContext, digest: Digest, path: string, res: UpstreamResponse, size: number): Readable {
  const settings = ctx.upstream.config.segments ?? defaultSegmentSettings;
  if (settings.connections < 2 || size < settings.thresholdBytes || size <= settings.sizeBytes) return res.body;
  const upstream = ctx.upstream;
  const base = {
    method: 'GET' as const,
    path,
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
  };
  let resolved: URL | undefined = res.url;
  const fetchRange = async (start: number, end: number, signal: AbortSignal): Promise<RangeAnswer> => {
    const req = { ...base, headers: { range: `bytes=${start}-${end}` }, signal };
    const url = resolved;
    if (url) {
      const answer = await upstream.fetchResolved(url, req);
      if (!expiredStatuses.has(answer.status)) return answer;
      await answer.body.dump().catch(() => undefined);
      if (resolved === url) resolved = undefined;
    }
    // Through the registry again (redirects followed, retries): a fresh URL for the next segments.
    const answer = await upstream.fetch(req);
    if (answer.status === 200 || answer.status === 206) resolved = answer.url;
    return answer;
  };
  const { retries } = upstream.config;
  const source = new SegmentedSource(
    res.body,
    {
      size,
      segmentBytes: settings.sizeBytes,
      connections: settings.connections,
      resumes: settings.resumes,
      stallTimeoutMs: settings.stallTimeoutMs,
      minDelayMs: retries.minDelayMs,
      maxDelayMs: retries.maxDelayMs,
    },
    fetchRange,
    slotsOf(upstream),
  );
  const observer = upstream.observer;
  source.onResume = () => observer?.fillResumed?.();
  inflight.set(digest, source);
  source.once('close', () => {
    if (inflight.get(digest) === source) inflight.delete(digest);
    observer?.fillSegments?.(source.segmentCount);
  });
  ctx.log.fill = {
    get segments() {
      return source.segmentCount;
    },
    get resumes() {
      return source.resumes;
    },
  };
  return source;
}
