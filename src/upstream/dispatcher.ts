// One undici dispatcher per upstream: pooled keep-alive connections, verified TLS with SNI (undici sets the
// servername from the host), system CAs plus the upstream's own bundle, an optional HTTP(S) proxy.
import { readFileSync } from 'node:fs';
import type { LookupFunction } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
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
 * system roots plus the upstream's own bundle, verification unless the operator turned it off. The roots and the
 * bundle go in as one secure context built once per bundle: given as `ca`, tls.connect would parse the ~150 roots
 * again for every connection (13-35 ms here, most of a cold pull's time to first byte;
 * docs/operating.md, "Direct reads of blob bodies").
 */
export function upstreamTls(upstream: Pick<UpstreamConfig, 'ca' | 'insecureSkipVerify'>): { secureContext?: SecureContext; rejectUnauthorized: boolean } {
  return {
    ...(upstream.ca ? { secureContext: trustedWith(readFileSync(upstream.ca, 'utf8')) } : {}),
    rejectUnauthorized: !upstream.insecureSkipVerify,
  };
}

/** Secure contexts by bundle: the upstreams of one configuration share theirs; a few kept across reloads. */
const contexts = new Map<string, SecureContext>();
const keptContexts = 16;

function trustedWith(bundle: string): SecureContext {
  let context = contexts.get(bundle);
  if (context) return context;
  context = createSecureContext({ ca: [...rootCertificates, bundle] });
  if (contexts.size >= keptContexts) contexts.delete(contexts.keys().next().value as string);
  contexts.set(bundle, context);
  return context;
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
