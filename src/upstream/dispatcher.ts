// One undici dispatcher per upstream: pooled keep-alive connections, verified TLS with SNI (undici sets the
// servername from the host), system CAs plus the upstream's own bundle, an optional HTTP(S) proxy.
import { readFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, ProxyAgent, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/config.js';

export interface DispatcherTimeouts {
  connect: number;
  headers: number;
  /** Inactivity on a body; never a total deadline. */
  idle: number;
}

/** Connections per origin at once, undici's pool's and the direct reads' (direct/direct-slots.ts). */
export const connectionsPerOrigin = 64;

/** How long idle connections are kept, undici's and the direct reads' (direct/direct-pool.ts). */
export const keepAlive = { timeoutMs: 30_000, maxTimeoutMs: 600_000 };

/**
 * The TLS trust of every connection to an upstream, undici's and the direct reads' (direct/direct-get.ts): the
 * system roots plus the upstream's own bundle, verification unless the operator turned it off.
 */
export function upstreamTls(upstream: Pick<UpstreamConfig, 'ca' | 'insecureSkipVerify'>): { ca?: string[]; rejectUnauthorized: boolean } {
  return {
    ...(upstream.ca ? { ca: [...rootCertificates, readFileSync(upstream.ca, 'utf8')] } : {}),
    rejectUnauthorized: !upstream.insecureSkipVerify,
  };
}

/**
 * `lookup` replaces DNS resolution for direct connections: the redirect guard uses it to refuse private
 * addresses at the moment of dialling (through a proxy, the proxy resolves names instead).
 */
export function createDispatcher(upstream: UpstreamConfig, timeouts: DispatcherTimeouts, lookup?: LookupFunction): Dispatcher {
  const tls = { ...upstreamTls(upstream), timeout: timeouts.connect };
  const common = {
    headersTimeout: timeouts.headers,
    bodyTimeout: timeouts.idle,
    keepAliveTimeout: keepAlive.timeoutMs,
    keepAliveMaxTimeout: keepAlive.maxTimeoutMs,
    connections: connectionsPerOrigin,
  };
  if (upstream.proxy) {
    return new ProxyAgent({ uri: upstream.proxy, ...common, requestTls: tls, proxyTls: { timeout: timeouts.connect } });
  }
  return new Agent({ ...common, connect: { ...tls, ...(lookup ? { lookup } : {}) } });
}
