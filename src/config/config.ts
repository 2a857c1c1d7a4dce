// The resolved configuration the app runs on: paths absolute, secrets read, per-upstream proxy decided.
import { isDockerHubRegistry } from '../registry/registry-names.js';
import type { PassthroughRoute } from './passthrough.js';
import type { ParsedConfig } from './schema.js';
import type { StorageConfig } from './storage.js';
import type { ClusterConfig } from './cluster.js';
import type { SignaturePolicyConfig } from '../signature/signature-policy.js';
import type { QuotaConfig, WatchEntryConfig } from './watch.js';

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
  /** This upstream's own access rules (each key replaces the global one). */
  access?: { allow?: string[] | undefined; deny?: string[] | undefined; login?: 'off' | 'required' | undefined };
  /** What may be pulled from this upstream. */
  policy?: { allow: string[]; deny: string[] };
  /** Signatures images must carry, keys read and paths absolute (docs/signatures.md). */
  signatures?: SignaturePolicyConfig;
  /** Images kept fresh on a schedule (docs/watch.md). */
  watch?: WatchEntryConfig[];
  quota?: QuotaConfig;
  /** Receives a JSON event when a watched tag moves (docs/watch.md). */
  watchWebhook?: string;
  /** Tried in order before `url` (the origin). */
  mirrors: URL[];
  allowPrivateRedirects: boolean;
  /** Blob fills may read bodies straight from the socket (src/upstream/direct/); false: always undici. */
  directReads: boolean;
  retries: { attempts: number; minDelayMs: number; maxDelayMs: number };
  circuit: { failures: number; openForMs: number };
  /** Segmented fills (docs/segmented-fills.md); absent: the defaults. */
  segments?: SegmentSettings;
}

export interface SegmentSettings {
  /** Concurrent Range requests per fill (1: one stream). */
  connections: number;
  /** Segment connections of all this upstream's fills together. */
  maxConnections: number;
  sizeBytes: number;
  thresholdBytes: number;
  /** Tries per segment after a broken or stalled connection. */
  resumes: number;
  stallTimeoutMs: number;
}

export const defaultSegmentSettings: SegmentSettings = {
  // One stream unless configured: on a short, fast path segments cost more than they save (docs/segmented-fills.md).
  connections: 1,
  maxConnections: 16,
  sizeBytes: 8 * 1024 * 1024,
  thresholdBytes: 32 * 1024 * 1024,
  resumes: 5,
  stallTimeoutMs: 15_000,
};

export interface AccessConfig {
  allow: string[];
  deny: string[];
  login: 'off' | 'required';
  trustedProxies: string[];
  users: Array<{ username: string; passwordHash: string }>;
  limits: { requestsPerSecond?: number | undefined; burst?: number | undefined; concurrentTransfers?: number | undefined };
  clientIdleTimeout: number;
}

export interface AcmeConfig {
  email: string;
  directoryUrl: string;
  /** Resolved: the configured hosts, or every hostname mapped to an upstream. */
  hosts: string[];
  challenge: 'http-01' | 'tls-alpn-01';
  httpListen: string;
  /** Absolute path of an extra CA bundle for the directory's TLS. */
  caBundle?: string;
}

export interface Config {
  listen: { http?: string | undefined; https?: string | undefined; admin?: string | undefined };
  tls: {
    certificates: Array<{ cert: string; key: string }>;
    passthrough: PassthroughRoute[];
    unknownSni: 'default' | 'refuse';
    helloTimeout: number;
    acme?: AcmeConfig;
  };
  dataDir: string;
  log: { level: ParsedConfig['log']['level']; format?: ParsedConfig['log']['format'] };
  publicUrl?: string;
  timeouts: { connect: number; headers: number; idle: number; keepAlive: number };
  cache: { maxSize: number; lowWater: number; pins: string[]; fillIdleTimeout: number; storage: StorageConfig };
  /** Milliseconds. */
  shutdownGrace: number;
  /** Set when several replicas share the bucket. */
  cluster?: ClusterConfig;
  /** Processes serving the data directory (docs/workers.md); absent or 1: this one. */
  workers?: number;
  upstreams: UpstreamConfig[];
  /** True when the file lists no upstreams and the built-in set is used. */
  builtinUpstreams: boolean;
  /** The global upstream proxy (upstreams added through the admin use it too). */
  proxy?: string;
  admin: { passwordFile?: string; sessionTtlMs: number; hosts: string[] };
  access: AccessConfig;
}

export function isDockerHub(upstream: Pick<UpstreamConfig, 'registry'>): boolean {
  return isDockerHubRegistry(upstream.registry);
}
