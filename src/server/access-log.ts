// One access line per registry request: upstream, repository, reference, status, bytes, upstream time, total
// time. Only what is listed here is logged; headers never are, and query values that look like secrets are redacted.
import type { Logger } from 'pino';
import type { PullLog } from '../mirror/reply.js';
import { toRegistryError } from './error-reply.js';
import { requestAuthority, type AnyRequest } from './request-authority.js';
import { redactedUrl } from './request-target.js';

export interface AccessInfo {
  method: string;
  url: string;
  /** What was asked for: manifest, blob, tags, referrers, base (`/v2/`); absent when the path was not understood. */
  kind?: string;
  /** The authority the request was sent to (validated: request-authority.ts). */
  host: string | undefined;
  /** The HTTP version: `1.1`, `2.0`. */
  http?: string;
  /** The client's address as the socket sees it. */
  client?: string;
  upstream?: string;
  /** How the upstream was chosen: ns, host, prefix or default. */
  via?: string;
  repository?: string;
  reference?: string;
  pull: PullLog;
}

/** Told about every finished registry request (the admin's live activity and traffic figures). */
export type RequestObserver = (info: AccessInfo, status: number, bytes: number, ms: number) => void;

export function accessLog(log: Logger, info: AccessInfo, status: number, bytes: number, ms: number, err?: unknown): void {
  const line: Record<string, unknown> = {
    method: info.method,
    url: redactedUrl(info.url),
    host: info.host,
    http: info.http,
    client: info.client,
    upstream: info.upstream,
    via: info.via,
    repository: info.repository,
    reference: info.reference,
    status,
    bytes,
    cache: info.pull.cache,
    redirectedBytes: info.pull.redirectedBytes,
    upstreamStatus: info.pull.upstreamStatus,
    upstreamMs: info.pull.upstreamMs,
    signature: info.pull.signature,
    ...(info.pull.fill ? { segments: info.pull.fill.segments, resumes: info.pull.fill.resumes } : {}),
    ms: Math.round(ms),
  };
  if (err) {
    const e = toRegistryError(err);
    line.error = { code: e.code, message: e.message };
    if (e.code === 'UNKNOWN') line.err = err;
  }
  (status >= 500 || (err && status < 400) ? log.warn : log.info).call(log, line, 'request');
}

/** Where a request was sent and over which HTTP version, for the log lines of requests outside `/v2/`. */
export function requestLogFields(req: AnyRequest): { host: string | undefined; http: string } {
  const { authority, httpVersion } = requestAuthority(req);
  return { host: authority?.value, http: httpVersion };
}
