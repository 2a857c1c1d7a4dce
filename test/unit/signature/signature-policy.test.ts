// The version a cached verdict is made under (docs/signatures.md, "When, and what the client sees"): changing the
// root keyless signatures are checked against makes a new version, also when only the content of the root changes
// (the trustedRoot file updated in place, or another release's public-good root), so that no verdict made under a
// root the operator has replaced (a rotated or revoked authority) is served again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { SignaturePolicy, type SignaturePolicyConfig } from '../../../src/signature/signature-policy.js';
import { publicGoodTrustedRoot } from '../../../src/signature/trusted-root.js';
import { testKey } from '../../support/sigstore-fixtures.js';

const keyless: SignaturePolicyConfig = {
  trustedRoot: '/etc/pullgate/trusted_root.json',
  require: [{ repositories: ['team/*'], identities: [{ issuer: 'https://issuer.example', subject: 'ci@example.com' }] }],
};

describe('signature policy version', () => {
  const before = publicGoodTrustedRoot();
  // The same file, rewritten: one transparency log fewer (a log the operator no longer trusts).
  const after = TrustedRoot.fromJSON({ ...(TrustedRoot.toJSON(before) as object), tlogs: [] });

  it('a keyless policy gets a new version when the content of its trusted root changes at the same path', () => {
    const v1 = new SignaturePolicy('hub', keyless, () => before).version;
    const v2 = new SignaturePolicy('hub', keyless, () => after).version;
    assert.notEqual(v1, v2);
    assert.equal(new SignaturePolicy('hub', keyless, () => before).version, v1, 'the same root, the same version');
  });

  it('the public-good root (no trustedRoot set) counts by its content too', () => {
    const { trustedRoot: _path, ...publicGood } = keyless;
    assert.notEqual(new SignaturePolicy('hub', publicGood, () => before).version, new SignaturePolicy('hub', publicGood, () => after).version);
  });

  it('a policy of keys only does not read a root, and its version does not depend on one', () => {
    const keys: SignaturePolicyConfig = { require: [{ repositories: ['team/*'], keys: [testKey('p256').publicPem] }] };
    let read = 0;
    const version = new SignaturePolicy('hub', keys, () => {
      read++;
      return before;
    }).version;
    assert.equal(read, 0);
    assert.match(version, /^[0-9a-f]{16}$/);
  });
});
