// Following another replica's fill (docs/security.md, "Cache access across repositories, upstreams and replicas"):
// the request's access is checked against each holder it is about to follow. A lease taken over by another replica,
// or taken again for another repository, is checked again before that holder's bytes are used.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { ClusterFills } from '../../../src/cluster/cluster-fills.js';
import type { LeaseRecord, LeaseStore } from '../../../src/cluster/leases.js';
import type { PeerAnswer, PeerClient } from '../../../src/cluster/peer-client.js';
import { parseDigest } from '../../../src/registry/digest.js';
import { chunkSourceOf } from '../../../src/upstream/chunk-source.js';

const digest = parseDigest(`sha256:${'ab'.repeat(32)}`);
const about = { upstream: 'hub', repository: 'library/alpine' };

/** Leases held by the given holders in turn (the last one stays); peers answering in the given order. */
function clusterOf(holders: LeaseRecord[], answers: PeerAnswer[]): ClusterFills {
  let claims = 0;
  const leases = {
    ttlMs: 1000,
    self: { owner: 'http://127.0.0.1:1/self', replica: 'self' },
    hold: async () => ({ won: false as const, holder: holders[Math.min(claims++, holders.length - 1)]! }),
  };
  let follows = 0;
  const peers = { follow: async () => answers[Math.min(follows++, answers.length - 1)]! };
  return new ClusterFills({
    leases: leases as unknown as LeaseStore,
    peers: peers as unknown as PeerClient,
    stat: async () => undefined,
    log: pino({ level: 'silent' }),
    sleep: async () => undefined,
  });
}

const holder = (replica: string, repository: string): LeaseRecord => ({
  owner: `http://127.0.0.1:1/${replica}`,
  replica,
  expiresAt: Date.now() + 60_000,
  about: { upstream: 'hub', repository },
});
const streaming = (): PeerAnswer => ({ kind: 'streaming', size: 1, body: Readable.from([Buffer.from('x')]) });

describe('a replica following the fill lease of another', () => {
  test('checks access again when the lease changes hands before it follows', async () => {
    const first = holder('a', 'library/alpine');
    const second = holder('b', 'team/secret');
    const checked: LeaseRecord[] = [];
    const cluster = clusterOf([first, second], [{ kind: 'not-running' }, streaming()]);
    const source = await cluster.open(digest, about, () => assert.fail('fetched upstream'), async (h) => void checked.push(h));
    assert.equal(source.peer, 'b');
    assert.deepEqual(checked.map((h) => h.replica), ['a', 'b']);
    assert.deepEqual(source.fetchedFor, second.about);
    source.body.destroy();
  });

  test('checks access again when the same replica takes the lease again for another repository', async () => {
    const checked: string[] = [];
    const cluster = clusterOf([holder('a', 'library/alpine'), holder('a', 'team/secret')], [{ kind: 'not-running' }, streaming()]);
    const source = await cluster.open(digest, about, () => assert.fail('fetched upstream'), async (h) => void checked.push(h.about?.repository ?? ''));
    assert.deepEqual(checked, ['library/alpine', 'team/secret']);
    source.body.destroy();
  });

  test('a refused check follows nothing', async () => {
    const cluster = clusterOf([holder('a', 'library/alpine')], [streaming()]);
    await assert.rejects(
      cluster.open(digest, about, () => assert.fail('fetched upstream'), async () => {
        throw new Error('denied');
      }),
      /denied/,
    );
  });

  test('one holder is checked once, however long it takes to answer', async () => {
    let checks = 0;
    const a = holder('a', 'library/alpine');
    const cluster = clusterOf([a], [{ kind: 'unreachable', reason: 'slow' }, { kind: 'unreachable', reason: 'slow' }, streaming()]);
    const source = await cluster.open(digest, about, () => assert.fail('fetched upstream'), async () => void checks++);
    assert.equal(checks, 1);
    source.body.destroy();
  });
});

describe('a lease held by this very process', () => {
  test('whose release failed is never followed: this replica waits for its expiry, then takes it and fetches', async () => {
    const self = { owner: 'http://127.0.0.1:1/self', replica: 'self', incarnation: 'this-process' };
    let now = 1_000;
    let claims = 0;
    const slept: number[] = [];
    const leases = {
      ttlMs: 1000,
      self,
      // Held by itself until it expires at 1,600 (its release failed), then free.
      hold: async () => (++claims > 1 && now >= 1_600 ? { won: true as const, release: async () => undefined } : { won: false as const, holder: { ...self, expiresAt: 1_600 } }),
    };
    const cluster = new ClusterFills({
      leases: leases as unknown as LeaseStore,
      peers: { follow: async () => assert.fail('followed itself') } as unknown as PeerClient,
      stat: async () => undefined,
      log: pino({ level: 'silent' }),
      clock: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    const source = await cluster.open(digest, about, async () => ({ size: 1, body: chunkSourceOf(Readable.from([Buffer.from('x')])), commit: async () => undefined }), async () => assert.fail('checked access to itself'));
    assert.equal(source.peer, undefined, 'fetched by this replica');
    assert.ok(now >= 1_600 && now <= 1_600 + 500, `claimed again as the lease expired (at ${now})`);
    assert.ok(slept.every((ms) => ms <= 500), `waited in short steps: ${slept.join(', ')}`);
    source.body.destroy();
  });
});
