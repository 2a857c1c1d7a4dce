// The supervisor's handling of its workers' messages (src/workers/supervisor.ts; docs/security.md, "Worker
// processes"): an admin change and a stored certificate are relayed only from the lead worker (slot 0), where the
// admin and ACME live; the same message from any other worker is ignored. The workers here are stand-ins for
// node:cluster's (its IPC channel), with the real relay and a real workers.db.
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Config } from '../../../src/config/config.js';
import { MachineTransferSlots } from '../../../src/workers/machine-transfer-slots.js';
import { Supervisor } from '../../../src/workers/supervisor.js';

interface StandIn {
  worker: Worker;
  /** What the supervisor sent this worker. */
  received: unknown[];
}

function standIn(pid: number): StandIn {
  const received: unknown[] = [];
  const worker = Object.assign(new EventEmitter(), {
    process: { pid, kill: () => true },
    isConnected: () => true,
    send: (m: unknown) => received.push(m) > 0,
  });
  return { worker: worker as unknown as Worker, received };
}

describe('the supervisor and its workers\' messages', () => {
  let dir: string;
  let workers: StandIn[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-supervisor-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A supervisor of three stand-in workers, each of which said it listens. */
  function machine(): void {
    workers = [];
    const config = { dataDir: dir, shutdownGrace: 1000 } as Config;
    const supervisor = new Supervisor(config, 3, pino({ level: 'silent' }), new MachineTransferSlots(dir), () => {
      const w = standIn(10_000 + workers.length);
      workers.push(w);
      return w.worker;
    });
    supervisor.forkAll();
    workers.forEach((w, slot) => w.worker.emit('message', { type: 'pullgate:listening', slot, listening: {} }));
  }

  const types = (w: StandIn) => w.received.map((m) => (m as { type: string }).type);

  it('relays an admin change and a stored certificate from the lead worker to the others', () => {
    machine();
    const [lead, a, b] = workers as [StandIn, StandIn, StandIn];
    lead.worker.emit('message', { type: 'pullgate:admin-changed', id: 7 });
    lead.worker.emit('message', { type: 'pullgate:certificates-stored' });
    assert.deepEqual(types(a), ['pullgate:refresh', 'pullgate:reload-certificates']);
    assert.deepEqual(types(b), ['pullgate:refresh', 'pullgate:reload-certificates']);
    const key = (a.received[0] as { id: number }).id;
    a.worker.emit('message', { type: 'pullgate:refreshed', id: key });
    b.worker.emit('message', { type: 'pullgate:refreshed', id: key });
    assert.deepEqual(lead.received, [{ type: 'pullgate:applied', id: 7 }]);
  });

  it('ignores an admin change or a stored certificate from any worker but the lead', () => {
    machine();
    const [lead, a, b] = workers as [StandIn, StandIn, StandIn];
    a.worker.emit('message', { type: 'pullgate:admin-changed', id: 1 });
    a.worker.emit('message', { type: 'pullgate:certificates-stored' });
    b.worker.emit('message', { type: 'pullgate:listening', slot: 0, listening: {} });
    b.worker.emit('message', { type: 'pullgate:certificates-stored' });
    assert.deepEqual([lead.received, a.received, b.received], [[], [], []]);
  });
});
