// Answers TLS-ALPN-01 challenges (RFC 8737): while a challenge is pending, a handshake for the host that
// negotiates `acme-tls/1` is served the challenge certificate (the key authorization's digest in a critical
// acmeIdentifier extension); every other handshake keeps the normal certificate.
import { createPrivateKey } from 'node:crypto';
import acme from 'acme-client';
import type { CertificateStore } from '../server/certificates.js';
import type { ChallengeResponder } from './challenge-responder.js';

export class TlsAlpn01Responder implements ChallengeResponder {
  readonly type = 'tls-alpn-01';

  constructor(private readonly certificates: CertificateStore) {}

  async set(authz: acme.Authorization, _token: string, keyAuthorization: string): Promise<void> {
    const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await keyLike(this.certificates.defaultPem.key));
    this.certificates.setAcmeChallenge(authz.identifier.value, { cert: cert.toString(), key: key.toString() });
  }

  clear(authz: acme.Authorization): void {
    this.certificates.setAcmeChallenge(authz.identifier.value, undefined);
  }
}

const curves: Record<string, 'P-256' | 'P-384' | 'P-521'> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/**
 * A fresh key of the listener's default certificate's type. Node swaps in an SNI certificate by key type
 * (OpenSSL keeps one certificate per type), so a challenge certificate of another type would sit next to the
 * default one, and the handshake could present either.
 */
async function keyLike(pem: string): Promise<Buffer> {
  const key = createPrivateKey(pem);
  const curve = curves[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (key.asymmetricKeyType === 'ec' && curve) return acme.crypto.createPrivateEcdsaKey(curve);
  if (key.asymmetricKeyType === 'rsa') return acme.crypto.createPrivateRsaKey(key.asymmetricKeyDetails?.modulusLength ?? 2048);
  throw new Error(`TLS-ALPN-01 needs an RSA or EC (P-256, P-384, P-521) default certificate, not ${key.asymmetricKeyType ?? 'unknown'}`);
}
