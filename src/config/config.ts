// The resolved configuration the app runs on: paths absolute, secrets read, per-upstream proxy decided.
import { isDockerHubRegistry } from '../registry/registry-names.js';
import type { ParsedConfig } from './schema.js';

export type AuthMode = 'mirror' | 'passthrough';

export interface UpstreamConfig {
  name: string;
  /** The registry name clients use: `docker.io`, `gcr.io`, `host:port`. */
  registry: string;
  url: URL;
  hosts: string[];
  default: boolean;
  auth: { mode: AuthMode; username?: string; password?: string };
  /** Absolute path of an extra CA bundle. */
  ca?: string;
  insecureSkipVerify: boolean;
  /** Proxy URL to dial through, already resolved from the upstream's and the global setting. */
  proxy?: string;
  tagTtlMs: number;
  offline: boolean;
  /** Tried in order before `url` (the origin). */
  mirrors: URL[];
  allowPrivateRedirects: boolean;
  retries: { attempts: number; minDelayMs: number; maxDelayMs: number };
  circuit: { failures: number; openForMs: number };
}

export interface Config {
  listen: { http?: string; https?: string; admin?: string };
  tls: { certificates: Array<{ cert: string; key: string }> };
  dataDir: string;
  log: { level: ParsedConfig['log']['level'] };
  publicUrl?: string;
  timeouts: { connect: number; headers: number; idle: number; keepAlive: number };
  cache: { maxSize: number; lowWater: number; pins: string[]; fillIdleTimeout: number };
  upstreams: UpstreamConfig[];
  /** True when the file lists no upstreams and the built-in set is used. */
  builtinUpstreams: boolean;
  /** The global upstream proxy (upstreams added through the admin use it too). */
  proxy?: string;
  admin: { passwordFile?: string; sessionTtlMs: number };
}

export function isDockerHub(upstream: Pick<UpstreamConfig, 'registry'>): boolean {
  return isDockerHubRegistry(upstream.registry);
}
