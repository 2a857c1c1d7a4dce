// Claims that replicas take on shared work (a blob's fill, the eviction run) through the bucket itself, with no
// coordination service (docs/architecture.md, "Decision: replicas coordinate through the bucket"): a lease is a small
// object created with `If-None-Match: *` (of racing replicas exactly one succeeds), naming its holder and an expiry.
// The holder renews it with `If-Match` on the ETag it wrote; a lease past its expiry (its holder died) is taken over
// the same way, so of two replicas taking over one wins. Expiry is wall-clock time: replicas' clocks must agree within
// a small part of the TTL (NTP).
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Logger } from 'pino';
import { isNotStored, isPreconditionFailed, toObjectStoreError } from '../cache/object-store-errors.js';

/** What a lease object says: who holds it, until when, and what it was taken for. */
export interface LeaseRecord {
  /** The holder's internal endpoint (cluster.advertise). */
  owner: string;
  /** The holder's replica id, for logs and the admin. */
  replica: string;
  /** The holder's process: a replica restarted at the same address takes its dead predecessor's leases at once. */
  incarnation?: string;
  expiresAt: number;
  /** Free-form facts about the work (a fill's upstream and repository). */
  about?: Record<string, string>;
}

export interface Lease {
  readonly name: string;
  readonly record: LeaseRecord;
  /** The ETag of the object as this replica last wrote it. */
  readonly etag: string;
}

export type Claim = { won: true; lease: Lease } | { won: false; holder: LeaseRecord };

export interface LeaseStoreOptions {
  client: S3Client;
  bucket: string;
  /** The storage prefix (empty or ending with `/`); leases live under `<prefix>leases/`. */
  prefix: string;
  ttlMs: number;
  self: { owner: string; replica: string; incarnation?: string };
  clock?: () => number;
  log: Logger;
}

export class LeaseStore {
  private readonly clock: () => number;
  readonly ttlMs: number;

  constructor(private readonly o: LeaseStoreOptions) {
    this.clock = o.clock ?? Date.now;
    this.ttlMs = o.ttlMs;
  }

  /** This replica's process, as its lease records name it. */
  get self(): LeaseStoreOptions['self'] {
    return this.o.self;
  }

  keyOf(name: string): string {
    return `${this.o.prefix}leases/${name}`;
  }

  /** Takes the lease `name` unless a live holder has it; then says who. */
  async claim(name: string, about?: Record<string, string>): Promise<Claim> {
    const key = this.keyOf(name);
    // A few rounds at most: each lost race means another replica just created, took over or released it.
    for (let round = 0; round < 4; round++) {
      const record = this.record(about);
      const created = await this.put(key, record, { IfNoneMatch: '*' });
      if (created !== undefined) return { won: true, lease: { name, record, etag: created } };
      const current = await this.read(key);
      if (current === undefined) continue; // released in between: try to create it again
      if (current.record.expiresAt > this.clock() && !this.isPredecessor(current.record)) return { won: false, holder: current.record };
      const taken = await this.putIfMatch(key, record, current.etag);
      if (taken !== undefined) {
        this.o.log.warn({ lease: name, previous: current.record.replica }, 'took over an expired lease');
        return { won: true, lease: { name, record, etag: taken } };
      }
    }
    const current = await this.read(key);
    if (current) return { won: false, holder: current.record };
    throw toObjectStoreError(new Error(`lease ${name} keeps changing`), 'PutObject', key);
  }

  /** Extends a held lease; undefined when another replica took it over meanwhile (this one was presumed dead). */
  async renew(lease: Lease): Promise<Lease | undefined> {
    const record = { ...lease.record, expiresAt: this.clock() + this.ttlMs };
    const etag = await this.putIfMatch(this.keyOf(lease.name), record, lease.etag);
    return etag === undefined ? undefined : { name: lease.name, record, etag };
  }

  /** Gives a lease up. Deleting is unconditional (not every server honours If-Match on DELETE), so it is read first. */
  async release(lease: Lease): Promise<void> {
    const key = this.keyOf(lease.name);
    const current = await this.read(key);
    if (!current || current.etag !== lease.etag) return;
    try {
      await this.o.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: key }));
    } catch (err) {
      if (!isNotStored(err)) throw toObjectStoreError(err, 'DeleteObject', key);
    }
  }

  /**
   * Claims `name` and keeps it renewed (every third of the TTL) until the returned release is called. `onLost` is
   * told when a renewal finds the lease taken over (the work may go on; it was only presumed dead). Renewals never
   * overlap: a second one sent while the first is still on its way would carry the ETag the first replaces, fail
   * its condition, and read as a takeover. The next one is sent a third of the TTL after the previous was sent, or
   * at once when the previous took longer, so a slow store does not let the lease expire under a live holder.
   */
  async hold(name: string, about?: Record<string, string>, onLost?: () => void): Promise<{ won: true; release: () => Promise<void> } | { won: false; holder: LeaseRecord }> {
    const claim = await this.claim(name, about);
    if (!claim.won) return claim;
    let lease: Lease | undefined = claim.lease;
    let renewing: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const everyMs = Math.max(250, Math.floor(this.ttlMs / 3));
    const schedule = (delayMs: number): void => {
      if (stopped || !lease) return;
      timer = setTimeout(renew, delayMs);
      timer.unref();
    };
    const renew = (): void => {
      const sentAt = this.clock();
      renewing = (async () => {
        if (!lease) return;
        try {
          lease = await this.renew(lease);
          if (!lease) {
            this.o.log.warn({ lease: name }, 'lease taken over by another replica');
            onLost?.();
          }
        } catch (err) {
          // A failed renewal is retried at the next tick; the lease stays valid until its expiry.
          this.o.log.warn({ err, lease: name }, 'lease renewal failed');
        }
      })();
      void renewing.then(() => schedule(Math.max(0, everyMs - (this.clock() - sentAt))));
    };
    schedule(everyMs);
    return {
      won: true,
      release: async () => {
        stopped = true;
        clearTimeout(timer);
        await renewing;
        const held = lease;
        lease = undefined;
        if (held) await this.release(held).catch((err: unknown) => this.o.log.warn({ err, lease: name }, 'lease release failed; it expires on its own'));
      },
    };
  }

  private isPredecessor(r: LeaseRecord): boolean {
    const { owner, incarnation } = this.o.self;
    return incarnation !== undefined && r.owner === owner && r.incarnation !== undefined && r.incarnation !== incarnation;
  }

  private record(about?: Record<string, string>): LeaseRecord {
    return { ...this.o.self, expiresAt: this.clock() + this.ttlMs, ...(about ? { about } : {}) };
  }

  /** The new ETag, or undefined when the precondition failed. */
  private async put(key: string, record: LeaseRecord, condition: { IfNoneMatch: string } | { IfMatch: string }): Promise<string | undefined> {
    try {
      const res = await this.o.client.send(
        new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: JSON.stringify(record), ContentType: 'application/json', ...condition }),
      );
      return res.ETag ?? '';
    } catch (err) {
      if (isPreconditionFailed(err)) return undefined;
      throw toObjectStoreError(err, 'PutObject', key);
    }
  }

  /**
   * If-Match with the ETag as S3 sends it (quoted); radosgw 16 compares it without the quotes, so a refusal is
   * retried unquoted. Both writes are conditional: an object that really changed fails either way.
   */
  private async putIfMatch(key: string, record: LeaseRecord, etag: string): Promise<string | undefined> {
    const quoted = await this.put(key, record, { IfMatch: etag });
    if (quoted !== undefined || !etag.startsWith('"')) return quoted;
    return this.put(key, record, { IfMatch: etag.replace(/^"|"$/g, '') });
  }

  private async read(key: string): Promise<{ record: LeaseRecord; etag: string } | undefined> {
    try {
      const res = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      const text = (await res.Body?.transformToString()) ?? '';
      return { record: parseRecord(text), etag: res.ETag ?? '' };
    } catch (err) {
      if (isNotStored(err)) return undefined;
      throw toObjectStoreError(err, 'GetObject', key);
    }
  }
}

/** A lease object that cannot be read as one (written by hand, truncated) counts as expired: it is taken over. */
function parseRecord(text: string): LeaseRecord {
  try {
    const v = JSON.parse(text) as Partial<LeaseRecord>;
    if (typeof v.owner === 'string' && typeof v.replica === 'string' && typeof v.expiresAt === 'number') {
      return { owner: v.owner, replica: v.replica, expiresAt: v.expiresAt, ...(typeof v.incarnation === 'string' ? { incarnation: v.incarnation } : {}), ...(v.about && typeof v.about === 'object' ? { about: v.about } : {}) };
    }
  } catch {
    // fall through
  }
  return { owner: '', replica: 'unknown', expiresAt: 0 };
}
