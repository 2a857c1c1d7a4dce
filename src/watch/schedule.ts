// When a watch entry runs next (docs/watch.md): every interval, or at a cron expression's times (UTC, read by
// croner), plus the entry's jitter: a fixed offset per entry from a hash of its id, so a fleet of mirrors spreads
// its runs while each mirror's runs stay a full interval apart.
import { createHash } from 'node:crypto';
import { Cron } from 'croner';

export interface Schedule {
  every?: number | undefined;
  cron?: string | undefined;
  jitter?: number | undefined;
}

/** A stable offset in [0, jitter) for `id`. */
export function jitterOffset(id: string, jitter: number): number {
  if (jitter <= 0) return 0;
  const n = createHash('sha256').update(id).digest().readUInt32BE(0);
  return Math.floor((n / 0x1_0000_0000) * jitter);
}

/**
 * The next run strictly after `after` (ms). With `every`, runs fall on the grid of multiples of the interval since
 * the epoch (so restarts and replicas agree on a tick), shifted by the jitter offset.
 */
export function nextRun(id: string, schedule: Schedule, after: number): number {
  const offset = jitterOffset(id, schedule.jitter ?? 0);
  if (schedule.every !== undefined) {
    const every = schedule.every;
    const base = Math.floor((after - offset) / every) * every + offset;
    return base > after ? base : base + every;
  }
  if (schedule.cron === undefined) throw new Error('a schedule needs every or cron');
  const cron = new Cron(schedule.cron, { paused: true, timezone: 'UTC' });
  try {
    // Cron times are whole seconds; the jitter shifts the run after the cron time.
    const next = cron.nextRun(new Date(after - offset));
    if (!next) throw new Error(`the cron expression ${schedule.cron} has no next run`);
    return next.getTime() + offset;
  } finally {
    cron.stop();
  }
}
