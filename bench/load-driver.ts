// The load bench's clients: each loops over a mix of cached-tag manifest HEADs, cached blob GETs (some with a
// Range) and cold pulls of images that appear upstream while the bench runs. Every byte is checked: full blob
// bodies are hashed against their digest, ranges compared with the known bytes, manifests hashed too.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { errorCodes } from '../src/registry/errors.js';
import type { FakeUpstream } from '../test/support/fake/fake-upstream.js';
import { KindStats, type Outcome } from './load-stats.js';

export type Kind = 'manifest HEAD (cached tag)' | 'blob GET (cached)' | 'blob GET range (cached)' | 'manifest GET (cold)' | 'blob GET (cold)';
export const kinds: Kind[] = ['manifest HEAD (cached tag)', 'blob GET (cached)', 'blob GET range (cached)', 'manifest GET (cold)', 'blob GET (cold)'];

export interface KnownBlob {
  digest: string;
  bytes: Buffer;
}

export interface KnownImage {
  /** Repository as the client names it (with a slash, so Docker Hub rules add no `library/`). */
  repository: string;
  tag: string;
  manifestDigest: string;
  manifestLength: number;
  blobs: KnownBlob[];
}

export interface Mix {
  head: number;
  cachedBlob: number;
  cold: number;
}

const manifestAccept = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** Adds an image upstream (a config and one random layer) and describes it. */
export function addImage(up: FakeUpstream, repository: string, tag: string, layerSizes: number[]): KnownImage {
  const layers = layerSizes.map((size) => randomBytes(size));
  const manifest = up.addImage(repository, tag, layers);
  const parsed = JSON.parse(manifest.bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  const blobs = [parsed.config, ...parsed.layers].map(({ digest }) => ({ digest, bytes: up.blobs.get(digest)! }));
  return { repository, tag, manifestDigest: manifest.digest, manifestLength: manifest.bytes.length, blobs };
}

export class LoadDriver {
  readonly pool: Pool;
  /** undici closes the connection after every HEAD (and says so in the request); real clients keep it. */
  readonly headAgent: HttpAgent;
  stats = LoadDriver.freshStats();
  private stopping = false;
  private coldSerial = 0;
  private readonly cachedBlobs: KnownBlob[];
  private readonly mirrorUrl: URL;

  constructor(
    mirrorUrl: string,
    private readonly up: FakeUpstream,
    private readonly warm: KnownImage[],
    private readonly mix: Mix,
    private readonly coldLayerSizes: () => number[],
    connections: number,
  ) {
    // One connection per client loop, kept alive, as 200 separate clients behind one NAT would look.
    this.pool = new Pool(mirrorUrl, { connections, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 60_000 });
    this.headAgent = new HttpAgent({ keepAlive: true, maxSockets: connections });
    this.mirrorUrl = new URL(mirrorUrl);
    this.cachedBlobs = warm.flatMap((image) => image.blobs.slice(1));
  }

  static freshStats(): Map<Kind, KindStats> {
    return new Map(kinds.map((k) => [k, new KindStats()]));
  }

  /** Runs `clients` loops until stop() and resolves when every loop has finished its current request. */
  async run(clients: number): Promise<void> {
    await Promise.all(Array.from({ length: clients }, () => this.loop()));
  }

  stop(): void {
    this.stopping = true;
  }

  /** Every request of the warm set once, sequentially: fills the cache before the load starts. */
  async prime(): Promise<void> {
    for (const image of this.warm) {
      await this.coldPull(image, LoadDriver.freshStats());
      await this.head(image, LoadDriver.freshStats());
    }
  }

  private async loop(): Promise<void> {
    const weights = this.mix.head + this.mix.cachedBlob + this.mix.cold;
    while (!this.stopping) {
      const stats = this.stats;
      const r = Math.random() * weights;
      if (r < this.mix.head) await this.head(pick(this.warm), stats);
      else if (r < this.mix.head + this.mix.cachedBlob) await this.cachedBlob(pick(this.cachedBlobs), stats);
      else await this.newColdPull(stats);
    }
  }

  private async head(image: KnownImage, stats: Map<Kind, KindStats>): Promise<void> {
    const started = performance.now();
    let outcome: Outcome;
    try {
      const res = await this.keepAliveHead(`/v2/${image.repository}/manifests/${image.tag}`, { accept: manifestAccept });
      const digest = res.headers['docker-content-digest'];
      const length = res.headers['content-length'];
      const type = String(res.headers['content-type'] ?? '');
      if (res.status === 500 || (res.status >= 400 && !type.startsWith('application/json'))) outcome = { kind: 'nonOci', detail: `HEAD answered ${res.status} ${type}` };
      else if (res.status >= 400) outcome = { kind: 'oci', code: `HTTP ${res.status}` };
      else if (res.status !== 200) outcome = { kind: 'nonOci', detail: `HEAD answered ${res.status}` };
      else if (digest !== image.manifestDigest || length !== String(image.manifestLength)) {
        outcome = { kind: 'corrupt', detail: `HEAD ${image.repository}:${image.tag} announced ${String(digest)} / ${String(length)} bytes` };
      } else outcome = { kind: 'ok' };
    } catch (err) {
      outcome = { kind: 'connection', code: (err as { code?: string }).code ?? (err as Error).name };
    }
    stats.get('manifest HEAD (cached tag)')!.record(performance.now() - started, outcome);
  }

  private keepAliveHead(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: this.mirrorUrl.hostname, port: this.mirrorUrl.port, method: 'HEAD', path, headers, agent: this.headAgent, timeout: 120_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('HEAD timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  private async cachedBlob(blob: KnownBlob, stats: Map<Kind, KindStats>): Promise<void> {
    const repository = this.warm[0]!.repository;
    if (Math.random() < 0.2) {
      const start = randomInt(blob.bytes.length);
      const end = Math.min(blob.bytes.length - 1, start + randomInt(256 * 1024));
      await this.exchange(stats, 'blob GET range (cached)', 'GET', `/v2/${repository}/blobs/${blob.digest}`, { range: `bytes=${start}-${end}` }, async (res) => {
        if (res.statusCode !== 206) return (await res.body.dump(), { kind: 'nonOci', detail: `range GET answered ${res.statusCode}` });
        const body = Buffer.from(await res.body.arrayBuffer());
        const expected = blob.bytes.subarray(start, end + 1);
        if (res.headers['content-range'] !== `bytes ${start}-${end}/${blob.bytes.length}` || !body.equals(expected)) {
          return { kind: 'corrupt', detail: `range ${start}-${end} of ${blob.digest}: ${body.length} bytes, ${String(res.headers['content-range'])}` };
        }
        return { kind: 'ok' };
      });
      return;
    }
    await this.exchange(stats, 'blob GET (cached)', 'GET', `/v2/${repository}/blobs/${blob.digest}`, {}, (res) => verifyBlob(res, blob));
  }

  private async newColdPull(stats: Map<Kind, KindStats>): Promise<void> {
    const n = this.coldSerial++;
    const image = addImage(this.up, `cold/c${n % 50}`, `t${n}`, this.coldLayerSizes());
    try {
      await this.coldPull(image, stats);
    } finally {
      // The bench's own memory stays flat: the upstream forgets what has been pulled (the shared config stays).
      for (const blob of image.blobs.slice(1)) this.up.blobs.delete(blob.digest);
      const refs = this.up.manifests.get(image.repository);
      refs?.delete(image.tag);
      refs?.delete(image.manifestDigest);
    }
  }

  /** A pull as a client does it: the manifest by tag, then every blob it names; stops at the first failure. */
  private async coldPull(image: KnownImage, stats: Map<Kind, KindStats>): Promise<void> {
    const ok = await this.exchange(stats, 'manifest GET (cold)', 'GET', `/v2/${image.repository}/manifests/${image.tag}`, { accept: manifestAccept }, async (res) => {
      if (res.statusCode !== 200) return (await res.body.dump(), { kind: 'nonOci', detail: `manifest GET answered ${res.statusCode}` });
      const body = Buffer.from(await res.body.arrayBuffer());
      const actual = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      if (actual !== image.manifestDigest || res.headers['docker-content-digest'] !== image.manifestDigest) {
        return { kind: 'corrupt', detail: `manifest ${image.repository}:${image.tag} hashed to ${actual}` };
      }
      return { kind: 'ok' };
    });
    for (const blob of image.blobs) {
      if (!ok) return;
      await this.exchange(stats, 'blob GET (cold)', 'GET', `/v2/${image.repository}/blobs/${blob.digest}`, {}, (res) => verifyBlob(res, blob));
    }
  }

  /** One request: error answers are classified here, successes by `check`; returns whether it succeeded. */
  private async exchange(
    stats: Map<Kind, KindStats>,
    kind: Kind,
    method: 'GET' | 'HEAD',
    path: string,
    headers: Record<string, string>,
    check: (res: Dispatcher.ResponseData) => Promise<Outcome>,
  ): Promise<boolean> {
    const started = performance.now();
    let outcome: Outcome;
    try {
      const res = await this.pool.request({ method, path, headers });
      outcome = res.statusCode >= 400 ? await errorOutcome(method, res) : await check(res);
    } catch (err) {
      outcome = { kind: 'connection', code: (err as { code?: string }).code ?? (err as Error).name };
    }
    stats.get(kind)!.record(performance.now() - started, outcome);
    return outcome.kind === 'ok';
  }
}

async function verifyBlob(res: Dispatcher.ResponseData, blob: KnownBlob): Promise<Outcome> {
  if (res.statusCode !== 200) return (await res.body.dump(), { kind: 'nonOci', detail: `blob GET answered ${res.statusCode}` });
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    length += chunk.length;
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== blob.digest) return { kind: 'corrupt', detail: `${blob.digest}: ${length} bytes hashed to ${actual}` };
  return { kind: 'ok' };
}

/** An OCI error is a JSON body `{errors: [{code}]}` with a known code other than UNKNOWN (HEAD: JSON type, not 500). */
async function errorOutcome(method: string, res: Dispatcher.ResponseData): Promise<Outcome> {
  const type = String(res.headers['content-type'] ?? '');
  const text = await res.body.text();
  if (res.statusCode === 500) return { kind: 'nonOci', detail: `500 ${text.slice(0, 200)}` };
  if (!type.startsWith('application/json')) return { kind: 'nonOci', detail: `${res.statusCode} ${type} ${text.slice(0, 200)}` };
  if (method === 'HEAD') return { kind: 'oci', code: `HTTP ${res.statusCode}` };
  try {
    const code = (JSON.parse(text) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    if (typeof code === 'string' && code !== 'UNKNOWN' && Object.hasOwn(errorCodes, code)) return { kind: 'oci', code };
  } catch {
    // not JSON: falls through
  }
  return { kind: 'nonOci', detail: `${res.statusCode} ${text.slice(0, 200)}` };
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)]!;
}
