// An image's verdict as the admin and the CLI show it (docs/signatures.md): the newest verdict under the image's own
// upstream's policy (the same digest may be judged under another upstream's), with signers by name.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { signatureOf, withSignatures } from '../../../src/admin/signature-view.js';
import { openDatabase } from '../../../src/cache/db.js';
import { SignatureVerdicts } from '../../../src/cache/signature-verdicts.js';
import type { Verdict } from '../../../src/signature/verdict.js';

const digest = `sha256:${'a'.repeat(64)}`;

test("the newest verdict of the image's own upstream, signers named; none for an upstream without one", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-verdict-view-'));
  const db = openDatabase(join(dir, 'index.db'));
  try {
    const verdicts = new SignatureVerdicts(db);
    const put = (policy: string, v: Verdict) => verdicts.put(digest, policy, v.result, JSON.stringify(v), v.at);
    put('hub/signatures.require[0]@v1', { result: 'fail', requirement: 'signatures.require[0]', mode: 'enforce', signers: [], reason: 'no signature found', at: 1000 });
    put('hub/signatures.require[0]@v2', {
      result: 'pass',
      requirement: 'signatures.require[0]',
      mode: 'enforce',
      signers: [{ kind: 'key', id: `sha256:${'b'.repeat(64)}` }, { kind: 'identity', issuer: 'https://issuer.test', subject: 'ci@example.test' }],
      at: 2000,
    });
    put('hubby/signatures.require[0]@v1', { result: 'fail', requirement: 'signatures.require[0]', mode: 'audit', signers: [], reason: 'signed by another key', at: 3000 });

    assert.deepEqual(signatureOf(verdicts, 'hub', digest), {
      result: 'pass',
      mode: 'enforce',
      requirement: 'signatures.require[0]',
      signers: [`key sha256:${'b'.repeat(12)}`, 'ci@example.test (https://issuer.test)'],
      at: 2000,
    });
    assert.equal(signatureOf(verdicts, 'hubby', digest)?.reason, 'signed by another key', 'a name that extends another is its own upstream');
    assert.equal(signatureOf(verdicts, 'other', digest), undefined);
    const rows = withSignatures(verdicts, 'other', [{ digest }]);
    assert.deepEqual(rows, [{ digest }], 'no signature key at all without a verdict');
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
