import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { needsRenewal, renewalTime, validityOf } from '../../../src/acme/renewal-policy.js';
import { createLeafCertificate } from '../../../src/tls/self-signed.js';

const day = 24 * 60 * 60 * 1000;

describe('the renewal policy', () => {
  it('renews two thirds of the way through the lifetime: 30 days before the end of a 90-day certificate', () => {
    assert.equal(renewalTime({ notBefore: 0, notAfter: 90 * day }), 60 * day);
    assert.equal(renewalTime({ notBefore: 1000, notAfter: 1000 + 6 * day }), 1000 + 4 * day);
  });

  it('a certificate is kept until its renewal time and renewed from then on', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const { cert } = await createLeafCertificate({ hosts: ['a.test'], days: 90, now });
    const at = renewalTime(validityOf(cert));
    assert.equal(needsRenewal(cert, 'a.test', now), false);
    assert.equal(needsRenewal(cert, 'a.test', at - 1000), false);
    assert.equal(needsRenewal(cert, 'a.test', at), true);
  });

  it('a certificate that does not name the host is replaced at once', async () => {
    const now = Date.now();
    const { cert } = await createLeafCertificate({ hosts: ['old.test'], days: 90, now });
    assert.equal(needsRenewal(cert, 'new.test', now), true);
  });
});
