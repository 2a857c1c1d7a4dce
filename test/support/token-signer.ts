// JWTs in the form distribution's token auth (registry/auth/token) verifies: ES256 over a P-256 key, with
// either an `x5c` chain to a cert in `rootcertbundle` or a libtrust `kid` naming a key in that bundle.
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: AccessEntry[];
}

export interface TokenHeader {
  typ: 'JWT';
  alg: 'ES256';
  kid?: string;
  x5c?: string[];
}

/** `x5c` embeds the signer certificate; `kid` names the signer key by its libtrust fingerprint. */
export type KeyIdMode = 'x5c' | 'kid';

export interface TokenSigner {
  issuer: string;
  keyId: string;
  certPem: string;
  sign(input: { subject: string; audience: string; access: AccessEntry[]; expiresIn: number; now?: Date }): string;
}

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32Alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += base32Alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** libtrust's key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, groups of 4. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const digest = createHash('sha256').update(der).digest().subarray(0, 30);
  return base32(digest).match(/.{4}/g)?.join(':') ?? '';
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export function createTokenSigner(opts: { certPem: string; keyPem: string; issuer: string; mode?: KeyIdMode | undefined }): TokenSigner {
  const cert = new X509Certificate(opts.certPem);
  const key = createPrivateKey(opts.keyPem);
  if (key.asymmetricKeyType !== 'ec') throw new Error('the token signer expects an EC P-256 key (ES256)');
  const keyId = libtrustKeyId(cert.publicKey);
  const header: TokenHeader =
    (opts.mode ?? 'x5c') === 'x5c'
      ? { typ: 'JWT', alg: 'ES256', x5c: [cert.raw.toString('base64')] }
      : { typ: 'JWT', alg: 'ES256', kid: keyId };
  const encodedHeader = b64url(JSON.stringify(header));

  return {
    issuer: opts.issuer,
    keyId,
    certPem: opts.certPem,
    sign({ subject, audience, access, expiresIn, now = new Date() }) {
      const iat = Math.floor(now.getTime() / 1000);
      const claims: TokenClaims = {
        iss: opts.issuer,
        sub: subject,
        aud: audience,
        exp: iat + expiresIn,
        // Docker Hub backdates nbf a little too, so small clock differences never reject a fresh token.
        nbf: iat - 10,
        iat,
        jti: randomUUID(),
        access,
      };
      const signingInput = `${encodedHeader}.${b64url(JSON.stringify(claims))}`;
      // JWS ES256 wants the raw r||s pair (RFC 7518 §3.4), not node's default DER signature.
      const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
      return `${signingInput}.${b64url(signature)}`;
    },
  };
}

/** Reads a token's header and claims without verifying it (for assertions in tests). */
export function decodeToken(token: string): { header: TokenHeader; claims: TokenClaims } {
  const [header, claims] = token.split('.');
  if (header === undefined || claims === undefined) throw new Error('not a JWT');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as TokenHeader,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as TokenClaims,
  };
}
