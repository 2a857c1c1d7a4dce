// An UpstreamConfig with every default, for unit tests that build an Upstream without loading a config file.
import type { UpstreamConfig } from '../../src/config/config.js';

export function upstreamConfig(name: string, registry: string, extra: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    name,
    registry,
    url: new URL(`https://${registry}`),
    hosts: [],
    default: false,
    auth: { mode: 'mirror' },
    insecureSkipVerify: false,
    tagTtlMs: 300_000,
    offline: false,
    mirrors: [],
    allowPrivateRedirects: false,
    directReads: true,
    retries: { attempts: 3, minDelayMs: 200, maxDelayMs: 2000 },
    circuit: { failures: 5, openForMs: 30_000 },
    ...extra,
  };
}
