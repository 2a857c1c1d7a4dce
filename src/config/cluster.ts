// Several replicas sharing one bucket (docs/storage.md, "Several replicas"): where this replica's internal endpoint
// listens, how the others reach it, the secret they share, and how long a claim on a fill lives without renewal. The
// secret comes from a file or the value (or PULLGATE_CLUSTER_SECRET), is read once at load and never logged.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseDurationMs } from './duration.js';

const listenPattern = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)?:)?(\d{1,5})$/;
/** Long enough that HMAC keys cannot be guessed; a `openssl rand -hex 32` is 64 characters. */
const minSecretLength = 32;

const leaseTtl = z
  .union([z.string(), z.number()])
  .default('30s')
  .transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < 1000 || ms > 600_000) {
      ctx.addIssue({ code: 'custom', message: `expected a duration from 1s to 10m, e.g. "30s", got ${String(v)}` });
      return z.NEVER;
    }
    return ms;
  });

export const clusterSchema = z
  .strictObject({
    /** The internal endpoint other replicas stream an in-progress fill from. */
    listen: z.string().regex(listenPattern, 'expected host:port, :port or a port').default(':5002'),
    /** How the other replicas reach this one's internal endpoint, e.g. http://10.0.0.5:5002 (a pod IP). */
    advertise: z.url({
      protocol: /^https?$/,
      error: 'how the other replicas reach this one: an http:// or https:// URL, e.g. http://10.0.0.5:5002 (or PULLGATE_CLUSTER_ADVERTISE)',
    }),
    /** Its length is checked at load (a printed config shows it redacted). */
    secret: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    /** A replica that dies mid-fill holds its claim this long; another replica then takes the fill over. */
    leaseTtl,
  })
  .superRefine((c, ctx) => {
    if (c.secret !== undefined && c.secretFile !== undefined) ctx.addIssue({ code: 'custom', path: ['secretFile'], message: 'give secret or secretFile, not both' });
    if (c.secret === undefined && c.secretFile === undefined) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'the replicas need a shared secret: give secret or secretFile' });
    try {
      const url = new URL(c.advertise);
      if (url.pathname !== '/' || url.search || url.hash || url.username) ctx.addIssue({ code: 'custom', path: ['advertise'], message: 'scheme, host and port only, e.g. http://10.0.0.5:5002' });
    } catch {
      // z.url() reported it.
    }
  });

export type ParsedCluster = z.output<typeof clusterSchema>;

export interface ClusterConfig {
  listen: string;
  /** Without a trailing slash. */
  advertise: string;
  secret: string;
  leaseTtlMs: number;
}

export class ClusterSecretError extends Error {
  readonly code = 'CLUSTER_SECRET_UNREADABLE';
}

export async function resolveCluster(c: ParsedCluster, baseDir: string): Promise<ClusterConfig> {
  let secret = c.secret;
  if (c.secretFile !== undefined) {
    const path = resolve(baseDir, c.secretFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ClusterSecretError(`cluster.secretFile: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    secret = text.replace(/\r?\n$/, '');
    if (secret.length < minSecretLength) throw new ClusterSecretError(`cluster.secretFile: ${path} holds fewer than ${minSecretLength} characters (e.g. \`openssl rand -hex 32\`)`);
  } else if ((secret ?? '').length < minSecretLength) {
    throw new ClusterSecretError(`cluster.secret: at least ${minSecretLength} characters (e.g. \`openssl rand -hex 32\`)`);
  }
  return { listen: c.listen, advertise: c.advertise.replace(/\/+$/, ''), secret: secret ?? '', leaseTtlMs: c.leaseTtl };
}
