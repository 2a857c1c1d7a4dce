// The supervisor of a server of several worker processes (`workers`, docs/workers.md). It serves nothing itself:
// it prepares the data directory once (schema, secret key, leftover temp files), forks the workers with node:cluster
// (their registry listeners share one socket each), replaces a worker that dies, gathers the machine's metrics for
// the admin, and on SIGTERM/SIGINT has every worker drain, then exits.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SecretBox } from '../admin/secret-box.js';
import { openDatabase } from '../cache/db.js';
import { DiskTempFiles } from '../cache/temp-files.js';
import type { Config } from '../config/config.js';
import { machineMetricsCollector } from './machine-metrics.js';
import { isWorkerMessage, workerEnv, type SupervisorMessage } from './worker-context.js';

/** A worker that dies this soon after its start is replaced only after a pause (a crash loop must not spin). */
const quickDeathMs = 5_000;
const respawnPauseMs = 1_000;

/** Runs in the primary process before any worker: the work two workers starting at once must not race on. */
async function prepareDataDir(config: Config, log: Logger): Promise<void> {
  await mkdir(config.dataDir, { recursive: true });
  openDatabase(join(config.dataDir, 'pullgate.db')).close();
  await SecretBox.open(config.dataDir);
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
  const secret = randomBytes(32).toString('hex');
  const collect = machineMetricsCollector();
  const slots = new Map<number, { worker: Worker; startedAt: number }>();
  const announced = new Set<number>();
  let stopping = false;
  let listeningLogged = false;
  let lead: Record<string, string | undefined> = {};
  let exitCode = 0;

  const fork = (slot: number): void => {
    const worker = cluster.fork({ [workerEnv.slot]: String(slot), [workerEnv.workers]: String(workers), [workerEnv.secret]: secret });
    slots.set(slot, { worker, startedAt: Date.now() });
    worker.on('message', (m: unknown) => onMessage(worker, m));
    worker.on('exit', (code, signal) => void onExit(slot, worker, code, signal));
  };

  const onMessage = (worker: Worker, m: unknown): void => {
    if (!isWorkerMessage(m)) return;
    if (m.type === 'pullgate:metrics-request') return void answerMetrics(worker, m.id);
    if (m.type === 'pullgate:admin-changed') return refreshOthers(worker);
    announced.add(m.slot);
    if (m.slot === 0) lead = m.listening;
    if (!listeningLogged && announced.size === workers) {
      listeningLogged = true;
      const pids = [...slots.values()].map((s) => s.worker.process.pid);
      log.info({ ...lead, workers, pids, pid: process.pid }, 'pullgate workers listening');
    }
  };

  const refreshOthers = (from: Worker): void => {
    const refresh: SupervisorMessage = { type: 'pullgate:refresh' };
    for (const { worker } of slots.values()) if (worker !== from && worker.isConnected()) worker.send(refresh);
  };

  const answerMetrics = (worker: Worker, id: number): void => {
    const send = (m: SupervisorMessage): void => {
      if (worker.isConnected()) worker.send(m);
    };
    collect().then(
      (body) => send({ type: 'pullgate:metrics', id, body }),
      (err: unknown) => send({ type: 'pullgate:metrics', id, error: (err as Error).message }),
    );
  };

  const onExit = async (slot: number, worker: Worker, code: number | null, signal: string | null): Promise<void> => {
    const pid = worker.process.pid ?? 0;
    const started = slots.get(slot)?.startedAt ?? 0;
    if (slots.get(slot)?.worker === worker) slots.delete(slot);
    const removed = pid ? await removeTempOf(config.dataDir, pid) : 0;
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (slots.size === 0) finish();
      return;
    }
    log.error({ slot, pid, code, signal, removedTempFiles: removed }, 'worker died; starting a replacement');
    const pause = Date.now() - started < quickDeathMs ? respawnPauseMs : 0;
    setTimeout(() => !stopping && fork(slot), pause);
  };

  const finish = (): void => {
    log.info('stopped');
    process.exit(exitCode);
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: slots.size }, 'stopping every worker');
    for (const { worker } of slots.values()) worker.process.kill('SIGTERM');
    if (slots.size === 0) finish();
    // Each worker bounds its own shutdown; this is the net under them.
    setTimeout(() => {
      for (const { worker } of slots.values()) worker.process.kill('SIGKILL');
      exitCode = 1;
    }, config.shutdownGrace + 20_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP (certificates, the config file) is for every worker.
  process.on('SIGHUP', () => {
    for (const { worker } of slots.values()) worker.process.kill('SIGHUP');
  });
  for (let slot = 0; slot < workers; slot++) fork(slot);
}
