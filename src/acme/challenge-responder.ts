// What the issuer needs from a challenge type: publish the answer before telling the CA to validate, and
// withdraw it afterwards.
import type acme from 'acme-client';

export interface ChallengeResponder {
  readonly type: 'http-01' | 'tls-alpn-01';
  set(authz: acme.Authorization, token: string, keyAuthorization: string): Promise<void>;
  clear(authz: acme.Authorization, token: string): void;
}
