// A cached verdict holds only for the policy version it was made under (docs/signatures.md): changing the trusted
// root keyless signatures are checked against is a policy change, even when the file keeps its path.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SignaturePolicy } from '../../../src/signature/signature-policy.js';
import { mockSigstore } from '../../support/sigstore-fixtures.js';

describe('signature policy version', () => {
  it('changes when the trusted root file is replaced at the same path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-root-'));
    try {
      const path = join(dir, 'trusted_root.json');
      const config = { trustedRoot: path, require: [{ repositories: ['team/*'], identities: [{ issuer: 'https://issuer.test', subject: 'ci' }] }] };
      await writeFile(path, JSON.stringify((await mockSigstore()).trustedRoot));
      const before = new SignaturePolicy('hub', config);
      assert.equal(new SignaturePolicy('hub', config).version, before.version, 'the same root gives the same version');
      await writeFile(path, JSON.stringify((await mockSigstore()).trustedRoot));
      const after = new SignaturePolicy('hub', config);
      assert.notEqual(after.version, before.version);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
