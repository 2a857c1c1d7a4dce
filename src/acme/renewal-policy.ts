// When a certificate is renewed: once two thirds of its lifetime have passed, the advice of Let's Encrypt for
// 90-day certificates (30 days before expiry) carried over to any lifetime, so short-lived certificates renew too.
import { X509Certificate } from 'node:crypto';

export const renewalFraction = 2 / 3;

export interface Validity {
  notBefore: number;
  notAfter: number;
}

export function validityOf(certPem: string): Validity {
  const x509 = new X509Certificate(certPem);
  return { notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo) };
}

/** The moment to renew: `fraction` of the way from notBefore to notAfter. */
export function renewalTime(v: Validity, fraction = renewalFraction): number {
  return v.notBefore + (v.notAfter - v.notBefore) * fraction;
}

/** True when the certificate does not serve `host` any more, or its renewal time has come. */
export function needsRenewal(certPem: string, host: string, now: number): boolean {
  const x509 = new X509Certificate(certPem);
  if (x509.checkHost(host) === undefined) return true;
  return now >= renewalTime(validityOf(certPem));
}
