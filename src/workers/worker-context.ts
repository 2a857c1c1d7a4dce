// What a worker process knows about its place on the machine (docs/workers.md), handed down by the supervisor
// in its environment: its slot, whether it leads (runs the once-per-machine work), and the secret that signs
// requests between the workers' internal endpoints. Messages between a worker and the supervisor are here too.
import cluster from 'node:cluster';
import type { FillEvent, RequestEvent } from '../server/activity.js';

export interface WorkerContext {
  /** 0..n-1; a replaced worker keeps its predecessor's slot. */
  slot: number;
  /** The lead worker (slot 0) runs the admin, the watch scheduler, ACME and the replica heartbeats. */
  lead: boolean;
  workers: number;
  /** Signs requests between the workers' internal endpoints (PeerAuth), fresh for every start of the machine. */
  secret: string;
  /** How long a worker that is gone keeps its claims (a killed process's claims are taken over at once). */
  leaseTtlMs: number;
}

export const workerEnv = {
  slot: 'PULLGATE_WORKER_SLOT',
  workers: 'PULLGATE_WORKERS',
  secret: 'PULLGATE_WORKER_SECRET',
} as const;

export const defaultLeaseTtlMs = 10_000;

/** Whether this process is to supervise workers rather than serve. */
export function isSupervisor(config: { workers?: number }): boolean {
  return (config.workers ?? 1) > 1 && cluster.isPrimary;
}

/**
 * This process's context when the supervisor started it; undefined in a server of one process. The first call reads
 * it; the secret is then deleted from the environment, so that nothing the worker spawns inherits it (the environment
 * it started with stays in /proc/PID/environ, readable by its own user only: docs/security.md, "Worker processes").
 */
export function workerContext(): WorkerContext | undefined {
  if (!cluster.isWorker) return undefined;
  context ??= readWorkerContext(process.env);
  return context;
}

let context: WorkerContext | undefined;

/** The context handed down in `env`, whose secret it deletes once read. */
export function readWorkerContext(env: NodeJS.ProcessEnv): WorkerContext {
  const slot = Number(env[workerEnv.slot]);
  const workers = Number(env[workerEnv.workers]);
  const secret = env[workerEnv.secret];
  delete env[workerEnv.secret];
  if (!Number.isInteger(slot) || !Number.isInteger(workers) || !secret) throw new Error('a worker started without its slot and secret');
  return { slot, lead: slot === 0, workers, secret, leaseTtlMs: defaultLeaseTtlMs };
}

/** Messages from a worker to the supervisor. */
export type WorkerMessage =
  | { type: 'pullgate:listening'; slot: number; listening: Record<string, string | undefined> }
  | { type: 'pullgate:metrics-request'; id: number }
  /** The lead worker's admin changed stored state (workers/admin-changes.ts). */
  | { type: 'pullgate:admin-changed'; id: number }
  /** This worker read the stored state again after the change `id`. */
  | { type: 'pullgate:refreshed'; id: number }
  /** What another worker's activity feed would show, for the lead's (workers/machine-activity.ts). */
  | ActivityReport
  /** The lead worker installed a certificate (workers/stored-certificates.ts). */
  | { type: 'pullgate:certificates-stored' };

/** A worker's finished requests since its last report, and its fills in flight when they are sent (every second). */
export interface ActivityReport {
  type: 'pullgate:activity';
  requests: RequestEvent[];
  fills?: FillEvent[];
}

/** Messages from the supervisor to a worker. */
export type SupervisorMessage =
  | { type: 'pullgate:metrics'; id: number; body?: string; error?: string }
  | { type: 'pullgate:refresh'; id: number }
  /** Every other worker applied the lead's admin change `id`. */
  | { type: 'pullgate:applied'; id: number }
  /** Read the stored certificates again: the lead installed one. */
  | { type: 'pullgate:reload-certificates' }
  /** Another worker's activity, handed to the lead with the slot it came from. */
  | (ActivityReport & { slot: number });

export function isMetricsAnswer(m: unknown): m is Extract<SupervisorMessage, { type: 'pullgate:metrics' }> {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'pullgate:metrics';
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
  return type === 'pullgate:listening' || type === 'pullgate:metrics-request' || type === 'pullgate:admin-changed' || type === 'pullgate:refreshed' || type === 'pullgate:activity' || type === 'pullgate:certificates-stored';
}

/** Tells the supervisor this worker's listeners are bound. */
export function announceListening(slot: number, listening: Record<string, string | undefined>): void {
  const message: WorkerMessage = { type: 'pullgate:listening', slot, listening };
  process.send?.(message);
}
