// Readiness (`/readyz`): the database answers, the data directory takes a file, the listeners are bound, and the
// process is not draining for shutdown. The disk probe's answer is kept for a few seconds, so a load balancer
// polling every second costs one create+remove per interval, not one per probe. A failing check's reason can name
// local paths: it goes to the log and the admin listener; the registry listeners answer with `statesOnly`
// (docs/security.md, "Operations probes").
import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** How long a data directory probe's answer is reused. */
export const diskProbeTtlMs = 5_000;

export type CheckName = 'database' | 'dataDir' | 'listeners' | 'shutdown';

export interface ReadinessReport {
  ready: boolean;
  /** `ok`, or why the check failed. */
  checks: Record<CheckName, string>;
}

export interface ReadinessSources {
  /** Throws when the database cannot answer a trivial query (closed, corrupt). */
  pingDatabase: () => void;
  /** Directories that must be writable: the data directory and the one fills write into. */
  writableDirs: () => string[];
  /** Names of listeners that are configured but not bound (empty when all are). */
  unboundListeners: () => string[];
  draining: () => boolean;
  clock: () => number;
  /** Told each report whose checks differ from the previous one's (to log the reasons once, not per probe). */
  changed: (report: ReadinessReport) => void;
}

/** The report as a client of a registry listener sees it: each check `ok` or `failing`, no reason. */
export function statesOnly(report: ReadinessReport): ReadinessReport {
  const checks = Object.fromEntries(Object.entries(report.checks).map(([name, c]) => [name, c === 'ok' ? 'ok' : 'failing']));
  return { ready: report.ready, checks: checks as ReadinessReport['checks'] };
}

export class Readiness {
  private disk: { at: number; answer: Promise<string> } | undefined;
  private last = '';

  constructor(private readonly s: ReadinessSources) {}

  async check(): Promise<ReadinessReport> {
    const checks: ReadinessReport['checks'] = {
      database: this.database(),
      dataDir: await this.dataDir(),
      listeners: this.listeners(),
      shutdown: this.s.draining() ? 'draining' : 'ok',
    };
    const report = { ready: Object.values(checks).every((c) => c === 'ok'), checks };
    const seen = JSON.stringify(checks);
    if (seen !== this.last) {
      this.last = seen;
      this.s.changed(report);
    }
    return report;
  }

  private database(): string {
    try {
      this.s.pingDatabase();
      return 'ok';
    } catch (err) {
      return `database unavailable: ${(err as Error).message}`;
    }
  }

  private listeners(): string {
    const unbound = this.s.unboundListeners();
    return unbound.length === 0 ? 'ok' : `not listening: ${unbound.join(', ')}`;
  }

  /** Concurrent probes within the TTL share one answer (and one file). */
  private dataDir(): Promise<string> {
    const now = this.s.clock();
    if (!this.disk || now - this.disk.at >= diskProbeTtlMs) this.disk = { at: now, answer: probeAll(this.s.writableDirs()) };
    return this.disk.answer;
  }
}

async function probeAll(dirs: string[]): Promise<string> {
  for (const dir of dirs) {
    const problem = await probe(dir);
    if (problem) return problem;
  }
  return 'ok';
}

/** Creates, writes and removes a file in `dir`; undefined when that worked, else what went wrong. */
async function probe(dir: string): Promise<string | undefined> {
  const path = join(dir, `.readyz-${randomUUID()}`);
  try {
    const handle = await open(path, 'wx');
    try {
      await handle.write('ready\n');
    } finally {
      await handle.close();
    }
    await unlink(path);
    return undefined;
  } catch (err) {
    await unlink(path).catch(() => undefined);
    return `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}
