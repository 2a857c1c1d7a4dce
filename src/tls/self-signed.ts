// Development certificates without openssl: a CA and leaf certificates signed by it, made with node's WebCrypto
// through @peculiar/x509. Keys are EC P-256, which Go clients (docker, containerd, skopeo) and Node accept.
import { createPrivateKey, KeyObject, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const dayMs = 24 * 60 * 60 * 1000;

export interface PemPair {
  cert: string;
  key: string;
}

export interface LeafOptions {
  /** DNS names and IP addresses the certificate serves (its SANs). */
  hosts: string[];
  days: number;
  now?: number;
}

// The global WebCrypto (node's own since Node 19), typed as the DOM's Crypto that @peculiar/x509 expects.
function provider(): Crypto {
  x509.cryptoProvider.set(globalThis.crypto);
  return globalThis.crypto;
}

function serialNumber(): string {
  // 16 random bytes, high bit cleared so that the DER integer stays positive.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

const keyPem = (key: CryptoKey): string =>
  KeyObject.from(key as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' }).toString();

async function generateKeys(): Promise<CryptoKeyPair> {
  return provider().subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return provider().subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

/** A CA certificate for development: trusted by whoever installs it, signing only the leaves made here. */
export async function createDevelopmentCa(options: { name: string; days: number; now?: number }): Promise<PemPair> {
  const keys = await generateKeys();
  const now = options.now ?? Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${options.name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + options.days * dayMs),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: keyPem(keys.privateKey) };
}

/** A TLS server certificate for `hosts`, signed by `ca` (or self-signed when no CA is given). */
export async function createLeafCertificate(options: LeafOptions, ca?: PemPair): Promise<PemPair> {
  if (options.hosts.length === 0) throw new Error('a certificate needs at least one host name');
  const keys = await generateKeys();
  const now = options.now ?? Date.now();
  const issuer = ca ? new x509.X509Certificate(ca.cert) : undefined;
  const names = options.hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${options.hosts[0] ?? ''}`,
    issuer: issuer ? issuer.subject : `CN=${options.hosts[0] ?? ''}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + options.days * dayMs),
    publicKey: keys.publicKey,
    signingKey: ca ? await importPrivateKey(ca.key) : keys.privateKey,
    signingAlgorithm: algorithm,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: keyPem(keys.privateKey) };
}

/** True when `ca` can sign here: a CA certificate with its own EC P-256 private key. */
export function isUsableCa(ca: PemPair): boolean {
  const cert = new NodeX509(ca.cert);
  const key = createPrivateKey(ca.key);
  return cert.ca && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' && cert.checkPrivateKey(key);
}
