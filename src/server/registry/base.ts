// `GET /v2/`, answered by the mirror itself: 200, or for a passthrough upstream a challenge naming the mirror's
// token endpoint for it, since Docker and containers/image learn where to log in only here.
import { RegistryError } from '../../registry/errors.js';
import type { RegistryReply } from '../../mirror/reply.js';
import { formatChallenge } from '../../upstream/challenge.js';
import { tokenRealmFor } from '../../upstream/realm-rewrite.js';
import type { Upstream } from '../../upstream/upstream.js';

/** A slow or unreachable upstream must not hold up the ping for long. */
const baseServiceTimeoutMs = 3_000;

export interface BaseRequest {
  /** The upstream answering `/v2/` here (by ns, by host, else the default), if any. */
  upstream: Upstream | undefined;
  authorization: string | undefined;
  /** The mirror as the client reached it (origin.ts). */
  origin: string;
  signal: AbortSignal;
}

export async function serveBase(r: BaseRequest): Promise<RegistryReply> {
  const upstream = r.upstream;
  if (!upstream || upstream.mode !== 'passthrough' || r.authorization) return emptyJson(200);
  // The service name is learned from the upstream once.
  const service = await upstream.baseService(AbortSignal.any([r.signal, AbortSignal.timeout(baseServiceTimeoutMs)])).catch(() => undefined);
  const params: Record<string, string> = { realm: tokenRealmFor(r.origin, upstream.name) };
  if (service) params.service = service;
  const body = JSON.stringify(new RegistryError('UNAUTHORIZED').toBody());
  return {
    status: 401,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'www-authenticate': formatChallenge({ scheme: 'bearer', params }),
    },
    body: Buffer.from(body),
  };
}

function emptyJson(status: number): RegistryReply {
  return { status, headers: { 'content-type': 'application/json', 'content-length': '2' }, body: Buffer.from('{}') };
}
