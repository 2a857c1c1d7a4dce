// The supervisor of a server of several worker processes (`workers`, docs/workers.md). It serves nothing itself:
// it prepares the data directory once (schema, secret key, replica id, leftover temp files), forks the workers with
// node:cluster (their registry listeners share one socket each), replaces a worker that dies (giving back its transfer
// slots), gathers the machine's metrics and activity for the admin, and on SIGTERM/SIGINT has every worker drain,
// then exits.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SecretBox } from '../cache/secret-box.js';
import { replicaId } from '../catalog/replica-id.js';
import { openDatabase } from '../cache/db.js';
import { DiskTempFiles } from '../cache/temp-files.js';
import type { Config } from '../config/config.js';
import { AdminChangeRelay } from './admin-change-relay.js';
import { machineMetricsCollector } from './machine-metrics.js';
import { MachineTransferSlots } from './machine-transfer-slots.js';
import { isWorkerMessage, workerEnv, type SupervisorMessage } from './worker-context.js';

/** A worker that dies this soon after its start is replaced only after a pause (a crash loop must not spin). */
const quickDeathMs = 5_000;
const respawnPauseMs = 1_000;

/** Runs in the primary process before any worker: the work two workers starting at once must not race on. */
async function prepareDataDir(config: Config, log: Logger): Promise<void> {
  // The mirror's user's only, as one process makes it (app/base.ts; docs/security.md, "Secrets the admin keeps").
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  openDatabase(join(config.dataDir, 'pullgate.db')).close();
  await SecretBox.open(config.dataDir);
  // The machine's one name in the bucket (heartbeats, tag records): workers drawing it at once would each draw one.
  if (config.cache.storage.type === 's3') await replicaId(config.dataDir);
  const removed = await new DiskTempFiles(config.dataDir).clean();
  if (removed) log.info({ removed }, 'removed partial fills left by an earlier process');
}

/** A dead worker's temp files (named after its pid, cache/temp-files.ts): never committed, so never kept. */
async function removeTempOf(dataDir: string, pid: number): Promise<number> {
  const dir = new DiskTempFiles(dataDir).dir;
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${pid}-`));
  await Promise.all(names.map((n) => rm(join(dir, n), { force: true })));
  return names.length;
}

export async function superviseWorkers(config: Config, workers: number, log: Logger): Promise<void> {
  await prepareDataDir(config, log);
  new Supervisor(config, workers, log, new MachineTransferSlots(config.dataDir)).start();
}

/** Starts a worker process with these environment variables (node:cluster's fork; tests give their own). */
export type ForkWorker = (env: Record<string, string>) => Worker;

/** Messages only the lead worker may send: the admin and ACME live in it alone (docs/security.md, "Worker processes"). */
const leadOnly = new Set<string>(['pullgate:admin-changed', 'pullgate:certificates-stored']);

export class Supervisor {
  private readonly secret = randomBytes(32).toString('hex');
  private readonly collect = machineMetricsCollector();
  private readonly slots = new Map<number, { worker: Worker; startedAt: number }>();
  private readonly announced = new Set<number>();
  /** The workers that listen now (a replacement joins once it does). */
  private readonly serving = new Set<Worker>();
  private readonly adminChanges = new AdminChangeRelay();
  private lead: Record<string, string | undefined> = {};
  private listeningLogged = false;
  private stopping = false;
  private exitCode = 0;

  constructor(
    private readonly config: Config,
    private readonly workers: number,
    private readonly log: Logger,
    private readonly transferSlots: MachineTransferSlots,
    private readonly forkWorker: ForkWorker = (env) => cluster.fork(env),
  ) {}

  start(): void {
    process.on('SIGTERM', () => this.stop('SIGTERM'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    // SIGHUP (certificates, the config file) is for every worker.
    process.on('SIGHUP', () => this.each((w) => w.process.kill('SIGHUP')));
    this.forkAll();
  }

  /** Starts every worker (start() does, after it took the signals). */
  forkAll(): void {
    for (let slot = 0; slot < this.workers; slot++) this.fork(slot);
  }

  private each(f: (w: Worker) => void): void {
    for (const { worker } of this.slots.values()) f(worker);
  }

  private fork(slot: number): void {
    const worker = this.forkWorker({ [workerEnv.slot]: String(slot), [workerEnv.workers]: String(this.workers), [workerEnv.secret]: this.secret });
    this.slots.set(slot, { worker, startedAt: Date.now() });
    worker.on('message', (m: unknown) => this.onMessage(worker, m));
    worker.on('exit', (code, signal) => void this.onExit(slot, worker, code, signal));
  }

  private onMessage(worker: Worker, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    if (leadOnly.has(m.type) && this.slots.get(0)?.worker !== worker) {
      this.log.warn({ type: m.type, slot: this.slotOf(worker), pid: worker.process.pid }, 'ignored a message only the lead worker may send');
      return;
    }
    if (m.type === 'pullgate:metrics-request') return this.answerMetrics(worker, m.id);
    if (m.type === 'pullgate:admin-changed') return this.adminChanges.changed(worker, m.id, [...this.serving].filter((w) => w !== worker));
    if (m.type === 'pullgate:refreshed') return this.adminChanges.refreshed(worker, m.id);
    if (m.type === 'pullgate:certificates-stored') return this.toOthers(worker, { type: 'pullgate:reload-certificates' });
    if (m.type === 'pullgate:activity') return this.toLead(worker, { ...m, slot: this.slotOf(worker) });
    // The slot the supervisor gave the worker, not one it names.
    const slot = this.slotOf(worker);
    if (slot < 0) return;
    this.serving.add(worker);
    this.announced.add(slot);
    if (slot === 0) this.lead = m.listening;
    if (this.announced.size === this.workers && !this.listeningLogged) {
      this.listeningLogged = true;
      const pids = [...this.slots.values()].map((s) => s.worker.process.pid);
      this.log.info({ ...this.lead, workers: this.workers, pids, pid: process.pid }, 'pullgate workers listening');
    }
  }

  private toOthers(from: Worker, m: SupervisorMessage): void {
    this.each((w) => w !== from && w.isConnected() && w.send(m));
  }

  /** Another worker's activity, for the admin's feed in the lead (workers/machine-activity.ts). */
  private toLead(from: Worker, m: SupervisorMessage): void {
    const lead = this.slots.get(0)?.worker;
    if (lead && lead !== from && lead.isConnected()) lead.send(m);
  }

  private slotOf(worker: Worker): number {
    for (const [slot, s] of this.slots) if (s.worker === worker) return slot;
    return -1;
  }

  private answerMetrics(worker: Worker, id: number): void {
    const send = (m: SupervisorMessage): void => void (worker.isConnected() && worker.send(m));
    this.collect().then(
      (body) => send({ type: 'pullgate:metrics', id, body }),
      (err: unknown) => send({ type: 'pullgate:metrics', id, error: (err as Error).message }),
    );
  }

  private async onExit(slot: number, worker: Worker, code: number | null, signal: string | null): Promise<void> {
    const pid = worker.process.pid ?? 0;
    const started = this.slots.get(slot)?.startedAt ?? 0;
    if (this.slots.get(slot)?.worker === worker) this.slots.delete(slot);
    this.serving.delete(worker);
    this.adminChanges.gone(worker);
    const releasedTransfers = pid ? this.transferSlots.releaseOf(pid, this.log) : 0;
    const removed = pid ? await removeTempOf(this.config.dataDir, pid) : 0;
    if (this.stopping) {
      if (code !== 0) this.exitCode = 1;
      if (this.slots.size === 0) this.finish();
      return;
    }
    if (!this.listeningLogged) {
      // The machine never served: a start that fails (a port taken, a bucket unreachable) fails again in a
      // replacement, so the machine stops as one process does, with the worker's reason above this line.
      this.log.error({ slot, pid, code, signal }, 'a worker could not start; stopping every worker');
      this.exitCode = 1;
      return this.stop('start failed');
    }
    this.log.error({ slot, pid, code, signal, removedTempFiles: removed, releasedTransfers }, 'worker died; starting a replacement');
    const pause = Date.now() - started < quickDeathMs ? respawnPauseMs : 0;
    setTimeout(() => !this.stopping && this.fork(slot), pause);
  }

  private stop(reason: NodeJS.Signals | 'start failed'): void {
    if (this.stopping) return;
    this.stopping = true;
    if (reason !== 'start failed') this.log.info({ signal: reason, workers: this.slots.size }, 'stopping every worker');
    this.each((w) => w.process.kill('SIGTERM'));
    if (this.slots.size === 0) this.finish();
    // Each worker bounds its own shutdown; this is the net under them.
    setTimeout(() => {
      this.exitCode = 1;
      this.each((w) => w.process.kill('SIGKILL'));
    }, this.config.shutdownGrace + 20_000).unref();
  }

  private finish(): void {
    this.log.info('stopped');
    process.exit(this.exitCode);
  }
}
