// Replica heartbeats in the bucket (docs/storage.md, "The shared catalog"): every replica writes
// `<prefix>replicas/<id>` every `periodMs` with its figures; the admin of any replica lists them and shows those seen
// within three periods as the cluster. No coordination service: a replica that dies simply stops appearing (its object
// is deleted after a day). A clean shutdown removes its own object at once.
import type { Logger } from 'pino';
import type { BucketObjects } from './bucket-objects.js';
import type { CatalogKeys } from './catalog-keys.js';

export const heartbeatPeriodMs = 15_000;
/** A heartbeat this old belongs to a replica that died without a clean shutdown: its object is deleted. */
export const forgetReplicaAfterMs = 24 * 3_600_000;
const maxHeartbeatBytes = 64 * 1024;

export interface ReplicaFigures {
  bytesServed: number;
  bytesFetched: number;
  hits: number;
  misses: number;
  fillsInFlight: number;
}

export interface Heartbeat extends ReplicaFigures {
  id: string;
  /** The cluster's advertise address when a `cluster` block exists, else the host name. */
  address: string;
  startedAt: number;
  /** When the heartbeat was written (the writer's clock). */
  at: number;
  version: string;
}

export interface ClusterView {
  /** This replica's id. */
  self: string;
  periodMs: number;
  replicas: Heartbeat[];
  totals: ReplicaFigures;
}

export interface HeartbeatOptions {
  objects: BucketObjects;
  keys: CatalogKeys;
  id: string;
  address: string;
  version: string;
  figures: () => ReplicaFigures;
  log: Logger;
  clock: () => number;
  periodMs?: number;
}

export class ReplicaHeartbeats {
  private readonly periodMs: number;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly o: HeartbeatOptions) {
    this.periodMs = o.periodMs ?? heartbeatPeriodMs;
    this.startedAt = o.clock();
  }

  /** Writes one heartbeat now and then every period. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.periodMs);
    this.timer.unref();
  }

  /** Writes this replica's heartbeat; a failure is logged (by the object layer) and retried next period. */
  beat(): Promise<void> {
    this.writing ??= (async () => {
      const h: Heartbeat = { id: this.o.id, address: this.o.address, startedAt: this.startedAt, at: this.o.clock(), version: this.o.version, ...this.o.figures() };
      await this.o.objects.put(this.o.keys.replica(this.o.id), Buffer.from(JSON.stringify(h)), 'application/json').catch(() => undefined);
    })().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** The replicas seen within three periods, this one first (its heartbeat written anew), with their figures summed. */
  async view(): Promise<ClusterView> {
    await this.beat();
    const now = this.o.clock();
    const listed = await this.o.objects.list(this.o.keys.replicasRoot);
    const read = await Promise.all(
      listed.map(async (object) => {
        const id = this.o.keys.replicaOf(object.key);
        if (!id) return undefined;
        const stored = await this.o.objects.get(object.key, maxHeartbeatBytes).catch(() => undefined);
        const h = stored ? parseHeartbeat(stored.bytes) : undefined;
        if (h && h.id === id && now - h.at > forgetReplicaAfterMs) {
          await this.o.objects.delete(object.key).catch(() => undefined);
          return undefined;
        }
        return h && h.id === id ? h : undefined;
      }),
    );
    const replicas = read
      .filter((h): h is Heartbeat => h !== undefined && now - h.at <= 3 * this.periodMs)
      .sort((a, b) => (a.id === this.o.id ? -1 : b.id === this.o.id ? 1 : a.id.localeCompare(b.id)));
    const totals: ReplicaFigures = { bytesServed: 0, bytesFetched: 0, hits: 0, misses: 0, fillsInFlight: 0 };
    for (const h of replicas) for (const k of Object.keys(totals) as Array<keyof ReplicaFigures>) totals[k] += h[k];
    return { self: this.o.id, periodMs: this.periodMs, replicas, totals };
  }

  /** Stops writing and removes this replica's heartbeat: it leaves the cluster's view at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.o.objects.delete(this.o.keys.replica(this.o.id)).catch(() => undefined);
  }
}

const figureKeys = ['startedAt', 'at', 'bytesServed', 'bytesFetched', 'hits', 'misses', 'fillsInFlight'] as const;

function parseHeartbeat(bytes: Buffer): Heartbeat | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const h = doc as Record<string, unknown>;
  if (typeof h.id !== 'string' || typeof h.address !== 'string' || typeof h.version !== 'string') return undefined;
  if (!figureKeys.every((k) => typeof h[k] === 'number' && Number.isFinite(h[k]))) return undefined;
  return {
    id: h.id,
    address: h.address,
    version: h.version,
    startedAt: h.startedAt as number,
    at: h.at as number,
    bytesServed: h.bytesServed as number,
    bytesFetched: h.bytesFetched as number,
    hits: h.hits as number,
    misses: h.misses as number,
    fillsInFlight: h.fillsInFlight as number,
  };
}
