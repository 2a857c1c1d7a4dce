// The `workers` setting (docs/workers.md): how many processes serve the data directory on this machine, `auto`
// for one per core. 1 (the default) is a server of one process, without a supervisor.
import { availableParallelism } from 'node:os';
import { z } from 'zod';

const expected = { error: 'expected a whole number from 1 to 256, or auto' };

export const workersSchema = z
  .union([z.literal('auto', expected), z.number(expected).int(expected).min(1, expected).max(256, expected)], expected)
  .default(1);

export type ParsedWorkers = z.output<typeof workersSchema>;

export function resolveWorkers(w: ParsedWorkers): number {
  return w === 'auto' ? availableParallelism() : w;
}
