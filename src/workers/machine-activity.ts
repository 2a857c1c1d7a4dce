// The admin's live activity for the whole machine (docs/workers.md): the admin lives in the lead worker, so every
// other worker sends it what its own feed would show, through the supervisor over node:cluster's IPC channel, as
// admin changes and metrics go: its finished requests (in batches, at most every quarter second, so that a busy
// worker sends a few messages a second rather than one per request) and its fills in flight (every second while it
// has some). The lead shows them with its own. Traffic figures are not sent: each worker adds its own to the
// shared rows (metrics/traffic.ts).
import { keepRecent, type Activity, type FillEvent, type RequestEvent } from '../server/activity.js';
import type { ActivityReport, SupervisorMessage } from './worker-context.js';

const requestsEveryMs = 250;
const fillsEveryMs = 1_000;
/** Another worker's fills count no more once its report is this old: it died, or its fills ended unreported. */
const fillsStaleMs = 3 * fillsEveryMs;

/** In every worker but the lead: reports `activity` to the lead. */
export function reportActivityToLead(activity: Activity, send: (m: ActivityReport) => void = (m) => void process.send?.(m)): () => void {
  let batch: RequestEvent[] = [];
  let flushing: NodeJS.Timeout | undefined;
  const flush = (): void => {
    flushing = undefined;
    const requests = batch;
    batch = [];
    send({ type: 'pullgate:activity', requests });
  };
  const off = activity.onRequest((e) => {
    batch.push(e);
    // The lead keeps no more than this many recent requests either.
    if (batch.length > keepRecent) batch.shift();
    flushing ??= setTimeout(flush, requestsEveryMs);
  });
  let reported = 0;
  const fills = setInterval(() => {
    const own = activity.ownFills();
    // An empty list once after the last fill ended, so that the lead stops showing it at once.
    if (!own.length && !reported) return;
    reported = own.length;
    send({ type: 'pullgate:activity', requests: [], fills: own });
  }, fillsEveryMs);
  fills.unref();
  return () => {
    off();
    clearInterval(fills);
    if (flushing) {
      clearTimeout(flushing);
      flush();
    }
  };
}

/** In the lead worker: the other workers' reports join `activity`. */
export function gatherMachineActivity(activity: Activity, clock: () => number = Date.now): void {
  const fillsOf = new Map<number, { at: number; fills: FillEvent[] }>();
  activity.elsewhere = () => {
    const now = clock();
    return [...fillsOf.values()].filter((w) => now - w.at < fillsStaleMs).flatMap((w) => w.fills);
  };
  process.on('message', (m: unknown) => {
    if (!isActivity(m)) return;
    for (const r of m.requests) activity.requestElsewhere(r);
    if (m.fills) fillsOf.set(m.slot, { at: clock(), fills: m.fills });
  });
}

function isActivity(m: unknown): m is Extract<SupervisorMessage, { type: 'pullgate:activity' }> {
  if (typeof m !== 'object' || m === null) return false;
  const a = m as { type?: unknown; requests?: unknown; slot?: unknown; fills?: unknown };
  return a.type === 'pullgate:activity' && Array.isArray(a.requests) && typeof a.slot === 'number' && (a.fills === undefined || Array.isArray(a.fills));
}
