// `pullgate config print [FILE] [--json]`: the configuration the mirror would run with (file, environment,
// defaults and built-in upstreams), paths made absolute, secrets redacted. The output is itself a valid config.
// `pullgate config schema`: the JSON Schema of the config file, for editors and CI checks.
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { builtinUpstreams } from '../config/builtin-upstreams.js';
import { formatDuration } from '../config/duration.js';
import { configFromObject, loadConfigDocument, validateConfig, type LoadOptions } from '../config/load.js';
import { configSchema, type ParsedConfig } from '../config/schema.js';
import type { ParsedStorage } from '../config/storage.js';
import type { ParsedCluster } from '../config/cluster.js';

export const redacted = 'REDACTED';

export interface PrintFlags {
  json?: boolean;
}

export async function configPrint(file: string | undefined, flags: PrintFlags): Promise<void> {
  process.stdout.write(await printedConfig(file ? { file } : {}, flags));
}

/** The effective configuration as `config print` writes it (YAML, or JSON with `json`), secrets redacted. */
export async function printedConfig(options: LoadOptions, flags: PrintFlags = {}): Promise<string> {
  const { raw, baseDir } = await loadConfigDocument(options);
  // The full load (password files, cross-checks) decides validity and the exit code; the printout shows the document.
  await configFromObject(structuredClone(raw), baseDir);
  const doc = effectiveDocument(validateConfig(raw), baseDir);
  return flags.json ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc);
}

export function configSchemaJson(): Record<string, unknown> {
  return { title: 'Pullgate configuration', ...z.toJSONSchema(configSchema, { io: 'input' }) };
}

export function configSchemaCommand(): void {
  process.stdout.write(`${JSON.stringify(configSchemaJson(), null, 2)}\n`);
}

/** The storage secret never leaves the process; its file is shown by absolute path. */
function printableStorage(s: ParsedStorage, path: (p: string) => string): Record<string, unknown> {
  if (s.type !== 's3') return s;
  return {
    ...s,
    redirectTtl: formatDuration(s.redirectTtl),
    ...(s.secretAccessKey !== undefined ? { secretAccessKey: redacted } : {}),
    ...(s.secretAccessKeyFile !== undefined ? { secretAccessKeyFile: path(s.secretAccessKeyFile) } : {}),
  };
}

/** The cluster secret never leaves the process either. */
function printableCluster(c: ParsedCluster, path: (p: string) => string): Record<string, unknown> {
  return {
    ...c,
    leaseTtl: formatDuration(c.leaseTtl),
    ...(c.secret !== undefined ? { secret: redacted } : {}),
    ...(c.secretFile !== undefined ? { secretFile: path(c.secretFile) } : {}),
  };
}

/** A URL's password (proxy credentials) never leaves the process. */
function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = redacted;
  return u.href;
}

/** Durations are written back as strings ("60s"): a bare number in a config file means seconds. */
function effectiveDocument(c: ParsedConfig, baseDir: string): Record<string, unknown> {
  const path = (p: string) => resolve(baseDir, p);
  const upstreams = c.upstreams ?? validateConfig({ upstreams: builtinUpstreams }).upstreams ?? [];
  const { connect, headers, idle, keepAlive } = c.timeouts;
  return {
    ...c,
    dataDir: path(c.dataDir),
    timeouts: { connect: formatDuration(connect), headers: formatDuration(headers), idle: formatDuration(idle), keepAlive: formatDuration(keepAlive) },
    cache: { ...c.cache, fillIdleTimeout: formatDuration(c.cache.fillIdleTimeout), storage: printableStorage(c.cache.storage, path) },
    shutdownGrace: formatDuration(c.shutdownGrace),
    ...(c.cluster ? { cluster: printableCluster(c.cluster, path) } : {}),
    tls: {
      ...c.tls,
      certificates: c.tls.certificates.map((t) => ({ cert: path(t.cert), key: path(t.key) })),
      helloTimeout: formatDuration(c.tls.helloTimeout),
      ...(c.tls.acme ? { acme: { ...c.tls.acme, ...(c.tls.acme.caBundle ? { caBundle: path(c.tls.acme.caBundle) } : {}) } } : {}),
    },
    access: { ...c.access, clientIdleTimeout: formatDuration(c.access.clientIdleTimeout) },
    admin: { ...c.admin, sessionTtl: formatDuration(c.admin.sessionTtl), ...(c.admin.passwordFile ? { passwordFile: path(c.admin.passwordFile) } : {}) },
    ...(c.proxy ? { proxy: redactUrl(c.proxy) } : {}),
    upstreams: upstreams.map((u) => ({
      ...u,
      tagTtl: formatDuration(u.tagTtl),
      retries: { ...u.retries, minDelay: formatDuration(u.retries.minDelay), maxDelay: formatDuration(u.retries.maxDelay) },
      circuit: { ...u.circuit, openFor: formatDuration(u.circuit.openFor) },
      segments: { ...u.segments, stallTimeout: formatDuration(u.segments.stallTimeout) },
      auth: {
        ...u.auth,
        ...(u.auth.password ? { password: redacted } : {}),
        ...(u.auth.passwordFile ? { passwordFile: path(u.auth.passwordFile) } : {}),
      },
      ...(u.ca ? { ca: path(u.ca) } : {}),
      ...(u.proxy ? { proxy: redactUrl(u.proxy) } : {}),
    })),
  };
}
