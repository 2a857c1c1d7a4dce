// Keys in a signature policy are public keys (docs/signatures.md): Node derives a public key from a private one, so a
// private key given by mistake would be accepted and kept (in the config, or in the admin's stored settings).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { inlineSignatures } from '../../../src/config/signatures.js';
import { loadPublicKey, SignaturePolicyError } from '../../../src/signature/requirement.js';

const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const privatePems = [pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), pair.privateKey.export({ type: 'sec1', format: 'pem' }).toString()];

describe('policy keys', () => {
  it('a public key is read; a private key (PKCS#8 or SEC1) is refused, though its public half could be derived', () => {
    assert.match(loadPublicKey(publicPem).id, /^sha256:[a-f0-9]{64}$/);
    for (const pem of privatePems) assert.throws(() => loadPublicKey(pem), SignaturePolicyError);
  });

  it('a policy sent to the admin with a private key names the field', () => {
    const { problems } = inlineSignatures({ require: [{ repositories: ['team/*'], keys: [publicPem, privatePems[0] as string], identities: [], mode: 'enforce' }] } as never);
    assert.deepEqual(problems.map((p) => p.path), ['signatures.require.0.keys.1']);
    assert.match(problems[0]?.message ?? '', /private key/);
  });
});
