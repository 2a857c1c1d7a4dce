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
const maxRememberedNonces = 100_000;

/** A replica as signatures name it: the origin of its advertised internal endpoint. */
const audienceOf = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
};

export class PeerAuth {
  private readonly key: Buffer;
  private readonly self: string;
  /** Nonces of accepted signatures, with when each may be forgotten. */
  private readonly seen = new Map<string, number>();

  constructor(
    secret: string,
    /** This replica's advertised internal endpoint: the only target whose signatures it accepts. */
    self: string,
    private readonly clock: () => number = Date.now,
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
    return this.firstUse(nonce, now);
  }

  private firstUse(nonce: string, now: number): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= maxRememberedNonces) {
      for (const [n, forgetAt] of this.seen) if (forgetAt <= now) this.seen.delete(n);
      if (this.seen.size >= maxRememberedNonces) return false;
    }
    // Kept until the signature could no longer pass the age check.
    this.seen.set(nonce, now + 2 * peerSignatureMaxAgeMs);
    return true;
  }

  private mac(method: string, path: string, audience: string, at: string, nonce: string): string {
    return createHmac('sha256', this.key).update(`${method} ${path} ${audience} ${at} ${nonce}`).digest('hex');
  }
}
