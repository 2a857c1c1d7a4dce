// The access step: who may pull what (docs/security.md): registry users (the file's and the admin's), the
// registry tokens they log in for (keys from the secret box), and per-client limits (the machine's with several workers:
// login attempts, request rates and transfers at once).
import { AccessControl } from '../access/access-control.js';
import { ClientLimits } from '../access/client-limits.js';
import { RegistryTokens } from '../access/registry-tokens.js';
import { RegistryUsers } from '../access/registry-users.js';
import { ClientCountTable } from '../cache/client-count-table.js';
import { TransferSlotTable } from '../cache/transfer-slot-table.js';
import { processAlive } from '../workers/local-leases.js';
import { SharedClientLimits, SharedLoginLimiter } from '../workers/shared-client-counts.js';
import type { Base } from './base.js';
import type { CacheWiring } from './cache.js';

export interface AccessWiring {
  access: AccessControl;
  users: RegistryUsers;
}

export function wireAccess(base: Base, parts: { cache: CacheWiring }): AccessWiring {
  const { access: settings } = base.config();
  const users = new RegistryUsers(parts.cache.local.db, settings.users, base.clock);
  // With several workers a client's connections land on any of them: its counts are the machine's
  // (docs/security.md, "Worker processes").
  const worker = base.worker;
  const shared = worker ? { counts: new ClientCountTable(base.config().dataDir, base.clock), slots: transferSlots(base, worker.slot) } : undefined;
  const access = new AccessControl(
    settings,
    users,
    new RegistryTokens(base.secrets.derive('registry-tokens'), 3600, base.clock),
    shared ? new SharedClientLimits(shared.counts, settings.limits, base.clock, shared.slots) : new ClientLimits(settings.limits, base.clock),
    ...(shared ? [new SharedLoginLimiter(shared.counts, undefined, base.clock)] : []),
  );
  return { access, users };
}

/** This worker's transfer slots in workers.db, once those its slot's earlier process left are given back. */
function transferSlots(base: Base, worker: number): ConstructorParameters<typeof SharedClientLimits>[3] {
  const table = new TransferSlotTable(base.config().dataDir, processAlive);
  const owner = { pid: process.pid, worker };
  const released = table.releaseEarlier(owner);
  if (released) base.log.info({ released }, 'gave back the transfer slots an earlier process of this worker held');
  return { table, owner };
}
