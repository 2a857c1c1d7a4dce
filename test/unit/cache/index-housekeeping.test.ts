// Pruning of the index's bookkeeping (src/cache/index-housekeeping.ts; docs/signatures.md, docs/watch.md): verdicts
// of digests no longer cached and of policy versions no longer in force go, the current ones stay; watch runs, tag
// states and history of entries gone go, and each tag's history and each entry's runs stay within their bounds.
// Real SQLite, real signature policies compiled from generated keys.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { IndexHousekeeping, verdictGraceMs } from '../../../src/cache/index-housekeeping.js';
import { SignatureVerdicts } from '../../../src/cache/signature-verdicts.js';
import { historyPerTag, runsPerEntry, WatchState } from '../../../src/cache/watch-state.js';
import { SignatureGate } from '../../../src/mirror/signature-gate.js';
import type { SignaturePolicyConfig } from '../../../src/signature/signature-policy.js';
import { capturedLog, openIndex, putImage, sha256, tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const policy = (key: string): SignaturePolicyConfig => ({ require: [{ repositories: ['team/*'], keys: [key], mode: 'enforce' }] });

describe('index housekeeping', () => {
  test('verdicts: a digest no longer cached loses its verdicts (after the grace), an older policy version loses its own; current ones stay', async () => {
    const fx = await openIndex(dirs);
    try {
      const verdicts = new SignatureVerdicts(fx.db);
      const gate = new SignatureGate(verdicts, fx.clock.now);
      let hub = { name: 'hub', config: { signatures: policy(pem()) } };
      const keyOf = () => [...gate.verdictKeys([hub])][0] as string;
      const oldKey = keyOf();
      const cached = await putImage(fx.index, { upstream: 'hub', repository: 'team/app', tag: '1' }, 'cached', [['a', 10]]);
      const gone = sha256('an image evicted since');
      const fresh = sha256('a verdict whose manifest row is on its way');
      verdicts.put(cached.digest, oldKey, 'pass', '{}', fx.clock.now());
      verdicts.put(gone, oldKey, 'pass', '{}', fx.clock.now());
      fx.clock.advance(verdictGraceMs + 1);
      verdicts.put(fresh, oldKey, 'fail', '{}', fx.clock.now());
      const { log, lines } = capturedLog();
      const housekeeping = new IndexHousekeeping({ verdicts, watch: new WatchState(fx.db), policyKeys: () => gate.verdictKeys([hub]), watchEntries: () => [], clock: fx.clock.now, log });

      assert.equal(housekeeping.run().verdicts, 1);
      assert.deepEqual([verdicts.all(cached.digest).length, verdicts.all(gone).length, verdicts.all(fresh).length], [1, 0, 1]);

      // A new key is a new policy version: what was decided under the old one is never read again.
      hub = { name: 'hub', config: { signatures: policy(pem()) } };
      assert.notEqual(keyOf(), oldKey);
      verdicts.put(cached.digest, keyOf(), 'pass', '{}', fx.clock.now());
      assert.equal(housekeeping.run().verdicts, 2);
      assert.deepEqual(verdicts.all(cached.digest).map((v) => v.policy), [keyOf()]);
      assert.equal(verdicts.all(fresh).length, 0);
      assert.ok(lines.some((l) => l['msg'] === 'pruned the cache index' && l['verdicts'] === 2));
    } finally {
      fx.close();
    }
  });

  test('watch: an entry gone loses its runs, tag states and the history of tags no entry follows; history and runs stay within bounds', async () => {
    const fx = await openIndex(dirs);
    try {
      const state = new WatchState(fx.db);
      const kept = 'hub/team/app:1.0';
      const removed = 'hub/team/old:2.0';
      const row = (entry: string, repository: string, tag: string) => ({ entry, upstream: 'hub', repository, tag, digest: sha256(tag), changedAt: 1, checkedAt: 1, bytesFetched: 0, error: null });
      state.putTag(row(kept, 'team/app', '1.0'));
      state.putTag(row(removed, 'team/old', '2.0'));
      for (let i = 0; i < historyPerTag + 20; i++) state.seen('hub', 'team/app', '1.0', sha256(`app ${i}`), 1000 + i);
      state.seen('hub', 'team/old', '2.0', sha256('old'), 1000);
      for (const entry of [kept, removed]) {
        for (let i = 0; i < runsPerEntry + 5; i++) state.finishRun(state.startRun(entry, 1000 + i), entry, 1000 + i, { result: 'ok', changed: 0, bytes: 0, skipped: 0 });
      }
      assert.equal(state.runs(kept, 1000).length, runsPerEntry, 'runs are bounded per entry as they finish');
      const housekeeping = new IndexHousekeeping({
        verdicts: new SignatureVerdicts(fx.db),
        watch: state,
        policyKeys: () => new Set(),
        watchEntries: () => [kept],
        clock: fx.clock.now,
        log: capturedLog().log,
      });

      assert.deepEqual(housekeeping.run(), { verdicts: 0, watchRuns: runsPerEntry, watchTags: 1, watchHistory: 21 });
      assert.equal(state.runs(removed, 1000).length, 0);
      assert.deepEqual(state.tags(removed), []);
      assert.deepEqual(state.lastDigests('hub', 'team/old', '2.0', 100), []);
      const history = state.lastDigests('hub', 'team/app', '1.0', 1000);
      assert.equal(history.length, historyPerTag);
      assert.equal(history[0], sha256(`app ${historyPerTag + 19}`), 'the newest are kept');
      assert.equal(state.runs(kept, 1000).length, runsPerEntry);
      assert.deepEqual(housekeeping.run(), { verdicts: 0, watchRuns: 0, watchTags: 0, watchHistory: 0 }, 'a second pass finds nothing');
    } finally {
      fx.close();
    }
  });
});
