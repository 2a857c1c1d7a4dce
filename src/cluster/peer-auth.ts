// The replicas' internal endpoint answers only its peers: each request carries a timestamp, a random nonce and an
// HMAC, under the shared cluster secret, of the method, path, target replica, timestamp and nonce. A captured
// header is useless for another path or another replica, stale after `peerSignatureMaxAgeMs`, and accepted only
// once by the replica it names (the nonces it has seen are kept for as long as a signature lives). The secret
// itself never crosses the wire.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const peerAuthHeader = 'x-pullgate-peer';
/** How long a signature lives, either way of the verifier's clock: replicas' clocks agree within it (NTP). */
export const peerSignatureMaxAgeMs = 10_000;
/** Nonces remembered at most; past it the endpoint refuses until old ones expire (fails closed under a flood). */
export const maxRememberedNonces = 100_000;

/** A replica as signatures name it: the origin of its advertised internal endpoint. */
const audienceOf = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

/**
 * The nonces a replica has accepted. One process keeps them in memory; the workers of one replica, which share its
 * endpoint, keep them in their data directory (cache/nonce-table.ts), so that a signature is accepted once by the
 * replica, not once per worker (docs/workers.md).
 */
export interface NonceMemory {
  /** Whether `nonce` is new (it is then remembered until `forgetAt`); false once full (fails closed). */
  firstUse(nonce: string, now: number, forgetAt: number): boolean;
}

/** Nonces remembered in this process. */
export class InMemoryNonces implements NonceMemory {
  /** Nonces of accepted signatures, with when each may be forgotten. */
  private readonly seen = new Map<string, number>();

  firstUse(nonce: string, now: number, forgetAt: number): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= maxRememberedNonces) {
      for (const [n, at] of this.seen) if (at <= now) this.seen.delete(n);
      if (this.seen.size >= maxRememberedNonces) return false;
    }
    this.seen.set(nonce, forgetAt);
    return true;
  }
}

export class PeerAuth {
  private readonly key: Buffer;
  private readonly self: string;

  constructor(
    secret: string,
    /** This replica's advertised internal endpoint: the only target whose signatures it accepts. */
    self: string,
    private readonly clock: () => number = Date.now,
    private readonly nonces: NonceMemory = new InMemoryNonces(),
  ) {
    // A key of its own, derived from the secret: the secret may be used for something else one day.
    this.key = createHmac('sha256', secret).update('pullgate cluster peer v1').digest();
    this.self = audienceOf(self);
  }

  /** The header for one request of `method path` to the replica whose internal endpoint is `target`. */
  sign(method: string, path: string, target: string): string {
    const at = String(this.clock());
    const nonce = randomBytes(16).toString('hex');
    return `${at}.${nonce}.${this.mac(method, path, audienceOf(target), at, nonce)}`;
  }

  /** Whether the header signs `method path` for this replica, recently, for the first time. */
  verify(method: string, path: string, header: string | undefined): boolean {
    const m = /^(\d{1,16})\.([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(header ?? '');
    if (!m) return false;
    const [, at = '', nonce = '', mac = ''] = m;
    const now = this.clock();
    if (Math.abs(now - Number(at)) > peerSignatureMaxAgeMs) return false;
    const expected = Buffer.from(this.mac(method, path, this.self, at, nonce), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(mac, 'hex'))) return false;
    // Kept until the signature could no longer pass the age check.
    return this.nonces.firstUse(nonce, now, now + 2 * peerSignatureMaxAgeMs);
  }

  private mac(method: string, path: string, audience: string, at: string, nonce: string): string {
    return createHmac('sha256', this.key).update(`${method} ${path} ${audience} ${at} ${nonce}`).digest('hex');
  }
}
