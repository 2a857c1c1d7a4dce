// Loading: defaults <- YAML file <- environment <- flags, then one validation with path-qualified errors.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { builtinUpstreams } from './builtin-upstreams.js';
import { defaultSegmentSettings, type AcmeConfig, type Config, type UpstreamConfig } from './config.js';
import { configSchema, defaultListen, upstreamSchema, type ParsedConfig } from './schema.js';
import { resolveWorkers } from './workers.js';
import { ClusterSecretError, resolveCluster, type ClusterConfig, type ParsedCluster } from './cluster.js';
import { resolveStorage, StorageSecretError, type ParsedStorage, type StorageConfig } from './storage.js';
import { resolveSignatures, SignatureConfigError, type ParsedSignatures } from './signatures.js';
import type { SignaturePolicyConfig } from '../signature/signature-policy.js';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}:\n  ${problems.join('\n  ')}` : message);
    this.name = 'ConfigError';
  }
}

/** Overrides from the command line; the same keys exist as PULLGATE_* environment variables. */
export interface ConfigOverrides {
  listenHttp?: string | undefined;
  listenHttps?: string | undefined;
  listenAdmin?: string | undefined;
  dataDir?: string | undefined;
  logLevel?: string | undefined;
  logFormat?: string | undefined;
  proxy?: string | undefined;
  clusterListen?: string | undefined;
  clusterAdvertise?: string | undefined;
  clusterSecret?: string | undefined;
}

const envNames: Record<keyof ConfigOverrides, string> = {
  listenHttp: 'PULLGATE_LISTEN_HTTP',
  listenHttps: 'PULLGATE_LISTEN_HTTPS',
  listenAdmin: 'PULLGATE_LISTEN_ADMIN',
  dataDir: 'PULLGATE_DATA_DIR',
  logLevel: 'PULLGATE_LOG_LEVEL',
  logFormat: 'PULLGATE_LOG_FORMAT',
  proxy: 'PULLGATE_PROXY',
  // A replica's own address is known only where it runs (a pod IP): the environment gives it.
  clusterListen: 'PULLGATE_CLUSTER_LISTEN',
  clusterAdvertise: 'PULLGATE_CLUSTER_ADVERTISE',
  clusterSecret: 'PULLGATE_CLUSTER_SECRET',
};

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
  cwd?: string;
}

export async function loadConfig(options: LoadOptions = {}): Promise<Config> {
  const { raw, baseDir } = await loadConfigDocument(options);
  return configFromObject(raw, baseDir);
}

/** The config document after layering (file, environment, flags), before validation, and the directory its paths are relative to. */
export async function loadConfigDocument(options: LoadOptions = {}): Promise<{ raw: Record<string, unknown>; baseDir: string }> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = options.file ?? env.PULLGATE_CONFIG;
  const raw = file ? await readConfigFile(resolve(cwd, file)) : {};
  const baseDir = file ? dirname(resolve(cwd, file)) : cwd;
  const fromEnv = Object.fromEntries(
    Object.entries(envNames).flatMap(([key, name]) => (env[name] ? [[key, env[name]]] : [])),
  ) as ConfigOverrides;
  applyOverrides(raw, { ...fromEnv, ...stripUndefined(options.overrides ?? {}) });
  return { raw, baseDir };
}

/** Validates a config document (as parsed from YAML) and resolves its relative paths against `baseDir`. */
export async function configFromObject(raw: unknown, baseDir: string): Promise<Config> {
  return resolveConfig(validateConfig(raw), baseDir);
}

export function validateConfig(raw: unknown): ParsedConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError('invalid configuration', formatIssues(result.error.issues));
  return result.data;
}

function formatIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    return `${path || '(root)'}: ${issue.message}`;
  });
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${path} must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

function applyOverrides(raw: Record<string, unknown>, o: ConfigOverrides): void {
  // Overrides layer over the file's listeners, or over the default ones when the file names none.
  const listen: Record<string, unknown> = { ...((raw.listen as Record<string, unknown> | undefined) ?? defaultListen) };
  if (o.listenHttp !== undefined) listen.http = o.listenHttp;
  if (o.listenHttps !== undefined) listen.https = o.listenHttps;
  if (o.listenAdmin !== undefined) listen.admin = o.listenAdmin;
  if (o.listenHttp !== undefined || o.listenHttps !== undefined || o.listenAdmin !== undefined) raw.listen = listen;
  if (o.dataDir !== undefined) raw.dataDir = o.dataDir;
  if (o.logLevel !== undefined) raw.log = { ...(raw.log as Record<string, unknown> | undefined), level: o.logLevel };
  if (o.logFormat !== undefined) raw.log = { ...(raw.log as Record<string, unknown> | undefined), format: o.logFormat };
  if (o.proxy !== undefined) raw.proxy = o.proxy;
  if (o.clusterListen !== undefined || o.clusterAdvertise !== undefined || o.clusterSecret !== undefined) {
    const cluster: Record<string, unknown> = { ...(raw.cluster as Record<string, unknown> | undefined) };
    if (o.clusterListen !== undefined) cluster.listen = o.clusterListen;
    if (o.clusterAdvertise !== undefined) cluster.advertise = o.clusterAdvertise;
    if (o.clusterSecret !== undefined) {
      cluster.secret = o.clusterSecret;
      delete cluster.secretFile;
    }
    raw.cluster = cluster;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type ParsedUpstream = z.output<typeof upstreamSchema>;

/** One validated upstream as the app runs it: secrets and paths already resolved by the caller. */
export function upstreamConfigOf(u: ParsedUpstream, o: { password?: string; caPath?: string; globalProxy?: string; signatures?: SignaturePolicyConfig }): UpstreamConfig {
  const proxy = u.proxy === '' ? undefined : (u.proxy ?? o.globalProxy);
  return {
    name: u.name,
    registry: u.registry,
    url: new URL(u.url.replace(/\/+$/, '')),
    hosts: u.hosts,
    default: u.default,
    auth: { mode: u.auth.mode, ...(u.auth.username ? { username: u.auth.username } : {}), ...(o.password ? { password: o.password } : {}) },
    ...(o.caPath ? { ca: o.caPath } : {}),
    insecureSkipVerify: u.insecureSkipVerify,
    ...(proxy ? { proxy } : {}),
    tagTtlMs: u.tagTtl,
    offline: u.offline,
    ...(u.access ? { access: u.access } : {}),
    ...(u.policy ? { policy: u.policy } : {}),
    ...(o.signatures ? { signatures: o.signatures } : {}),
    // Settings stored by an older version lack these keys: their defaults apply.
    ...(u.watch && u.watch.length > 0 ? { watch: u.watch } : {}),
    ...(u.quota ? { quota: u.quota } : {}),
    ...(u.watchWebhook ? { watchWebhook: u.watchWebhook } : {}),
    mirrors: (u.mirrors ?? []).map((m) => new URL(m.replace(/\/+$/, ''))),
    allowPrivateRedirects: u.allowPrivateRedirects ?? false,
    directReads: u.directReads ?? true,
    retries: {
      attempts: u.retries?.attempts ?? 3,
      minDelayMs: u.retries?.minDelay ?? 200,
      maxDelayMs: u.retries?.maxDelay ?? 2000,
    },
    circuit: { failures: u.circuit?.failures ?? 5, openForMs: u.circuit?.openFor ?? 30_000 },
    segments: {
      connections: u.segments?.connections ?? defaultSegmentSettings.connections,
      maxConnections: u.segments?.maxConnections ?? defaultSegmentSettings.maxConnections,
      sizeBytes: u.segments?.size ?? defaultSegmentSettings.sizeBytes,
      thresholdBytes: u.segments?.threshold ?? defaultSegmentSettings.thresholdBytes,
      resumes: u.segments?.resumes ?? defaultSegmentSettings.resumes,
      stallTimeoutMs: u.segments?.stallTimeout ?? defaultSegmentSettings.stallTimeoutMs,
    },
  };
}

async function resolveConfig(c: ParsedConfig, baseDir: string): Promise<Config> {
  const rawUpstreams = c.upstreams ?? validateConfig({ upstreams: builtinUpstreams }).upstreams ?? [];
  const upstreams = await Promise.all(
    rawUpstreams.map(async (u, i): Promise<UpstreamConfig> => {
      let password = u.auth.password;
      if (u.auth.passwordFile) {
        const path = resolve(baseDir, u.auth.passwordFile);
        try {
          password = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
        } catch (err) {
          throw new ConfigError('invalid configuration', [
            `upstreams[${i}].auth.passwordFile: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
          ]);
        }
      }
      const signatures = u.signatures ? await resolveSignaturesOrFail(u.signatures, baseDir, `upstreams[${i}].signatures`) : undefined;
      return upstreamConfigOf(u, {
        ...(password ? { password } : {}),
        ...(u.ca ? { caPath: resolve(baseDir, u.ca) } : {}),
        ...(c.proxy ? { globalProxy: c.proxy } : {}),
        ...(signatures ? { signatures } : {}),
      });
    }),
  );
  return {
    listen: c.listen,
    tls: {
      passthrough: c.tls.passthrough,
      unknownSni: c.tls.unknownSni,
      helloTimeout: c.tls.helloTimeout,
      certificates: c.tls.certificates.map((p) => ({ cert: resolve(baseDir, p.cert), key: resolve(baseDir, p.key) })),
      ...(c.tls.acme ? { acme: resolveAcme(c.tls.acme, upstreams, baseDir) } : {}),
    },
    dataDir: resolve(baseDir, c.dataDir),
    log: c.log,
    ...(c.publicUrl ? { publicUrl: c.publicUrl.replace(/\/+$/, '') } : {}),
    timeouts: c.timeouts,
    cache: { ...c.cache, storage: await resolveStorageOrFail(c.cache.storage, baseDir) },
    shutdownGrace: c.shutdownGrace,
    ...(c.cluster ? { cluster: await resolveClusterOrFail(c.cluster, baseDir) } : {}),
    workers: resolveWorkers(c.workers),
    upstreams,
    builtinUpstreams: c.upstreams === undefined,
    ...(c.proxy ? { proxy: c.proxy } : {}),
    access: c.access,
    admin: { ...(c.admin.passwordFile ? { passwordFile: resolve(baseDir, c.admin.passwordFile) } : {}), sessionTtlMs: c.admin.sessionTtl, hosts: c.admin.hosts.map((h) => h.toLowerCase()) },
  };
}

async function resolveSignaturesOrFail(s: ParsedSignatures, baseDir: string, field: string): Promise<SignaturePolicyConfig> {
  try {
    return await resolveSignatures(s, baseDir, field);
  } catch (err) {
    if (err instanceof SignatureConfigError) throw new ConfigError('invalid configuration', err.problems);
    throw err;
  }
}

async function resolveClusterOrFail(c: ParsedCluster, baseDir: string): Promise<ClusterConfig> {
  try {
    return await resolveCluster(c, baseDir);
  } catch (err) {
    if (err instanceof ClusterSecretError) throw new ConfigError('invalid configuration', [err.message]);
    throw err;
  }
}

async function resolveStorageOrFail(s: ParsedStorage, baseDir: string): Promise<StorageConfig> {
  try {
    return await resolveStorage(s, baseDir);
  } catch (err) {
    if (err instanceof StorageSecretError) throw new ConfigError('invalid configuration', [err.message]);
    throw err;
  }
}

function resolveAcme(a: NonNullable<ParsedConfig['tls']['acme']>, upstreams: UpstreamConfig[], baseDir: string): AcmeConfig {
  return {
    email: a.email,
    directoryUrl: a.directoryUrl,
    hosts: a.hosts ?? [...new Set(upstreams.flatMap((u) => u.hosts))],
    challenge: a.challenge,
    httpListen: a.httpListen,
    ...(a.caBundle ? { caBundle: resolve(baseDir, a.caBundle) } : {}),
  };
}
