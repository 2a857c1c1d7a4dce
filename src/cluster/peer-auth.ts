// The replicas' internal endpoint answers only its peers: each request carries a timestamp and an HMAC of the
// method, path and timestamp under the shared cluster secret. A captured header is useless for another path and
// stale after `maxSkewMs`; the secret itself never crosses the wire.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const peerAuthHeader = 'x-pullgate-peer';
const maxSkewMs = 60_000;

export class PeerAuth {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly clock: () => number = Date.now,
  ) {
    // A key of its own, derived from the secret: the secret may be used for something else one day.
    this.key = createHmac('sha256', secret).update('pullgate cluster peer v1').digest();
  }

  sign(method: string, path: string): string {
    const at = String(this.clock());
    return `${at}.${this.mac(method, path, at)}`;
  }

  verify(method: string, path: string, header: string | undefined): boolean {
    const m = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(header ?? '');
    if (!m) return false;
    const at = m[1]!;
    if (Math.abs(this.clock() - Number(at)) > maxSkewMs) return false;
    const expected = Buffer.from(this.mac(method, path, at), 'hex');
    return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
  }

  private mac(method: string, path: string, at: string): string {
    return createHmac('sha256', this.key).update(`${method} ${path} ${at}`).digest('hex');
  }
}
