// The `workers` setting (docs/workers.md): how many processes serve the data directory on this machine, `auto`
// for one per core. 1 (the default) is a server of one process, without a supervisor.
import { availableParallelism } from 'node:os';
import { z } from 'zod';

export const workersSchema = z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default(1);

export type ParsedWorkers = z.output<typeof workersSchema>;

export function resolveWorkers(w: ParsedWorkers): number {
  return w === 'auto' ? availableParallelism() : w;
}
