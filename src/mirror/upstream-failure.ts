// An upstream answer that is not a success, turned into the registry error the client gets.
import { RegistryError, toErrorCode, type ErrorCode } from '../registry/errors.js';
import { rewriteChallenge } from '../upstream/realm-rewrite.js';
import type { UpstreamResponse } from '../upstream/exchange.js';
import type { PullContext } from './reply.js';

const maxErrorBody = 64 * 1024;

interface UpstreamErrorBody {
  errors?: Array<{ code?: unknown; message?: unknown; detail?: unknown }>;
}

export async function upstreamFailure(res: UpstreamResponse, ctx: PullContext, notFound: ErrorCode): Promise<RegistryError> {
  const first = await readErrorBody(res);
  const message = typeof first?.message === 'string' ? first.message.slice(0, 1024) : undefined;
  const known = toErrorCode(first?.code);
  const detail = { upstream: ctx.upstream.name, upstreamStatus: res.status };
  switch (res.status) {
    case 401:
      if (ctx.upstream.mode === 'passthrough' && res.challenge) {
        return new RegistryError('UNAUTHORIZED', message, {
          headers: { 'www-authenticate': rewriteChallenge(res.challenge, ctx.tokenRealm) },
        });
      }
      // mirror mode: the client cannot authenticate to the upstream through us, so this is a refusal.
      return new RegistryError('DENIED', 'the upstream registry denied access to this repository', { detail });
    case 403:
      return new RegistryError('DENIED', message, { detail });
    case 404:
      return new RegistryError(known && known.endsWith('_UNKNOWN') ? known : notFound, message, { detail });
    case 416: {
      const range = res.headers['content-range'];
      return new RegistryError('RANGE_INVALID', undefined, { headers: range ? { 'content-range': String(range) } : {} });
    }
    case 429: {
      const retry = res.headers['retry-after'];
      return new RegistryError('TOOMANYREQUESTS', message, { detail, headers: retry ? { 'retry-after': String(retry) } : {} });
    }
    default:
      if (res.status >= 500) return new RegistryError('UNAVAILABLE', `upstream ${ctx.upstream.name} answered ${res.status}`, { detail });
      if (known && res.status >= 400 && res.status < 500) return new RegistryError(known, message, { detail });
      return new RegistryError('UPSTREAM_INVALID', `upstream ${ctx.upstream.name} answered ${res.status}`, { detail });
  }
}

async function readErrorBody(res: UpstreamResponse): Promise<{ code?: unknown; message?: unknown } | undefined> {
  try {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > maxErrorBody) break;
      chunks.push(chunk as Buffer);
    }
    res.body.destroy();
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as UpstreamErrorBody;
    return parsed.errors?.[0];
  } catch {
    return undefined;
  }
}
