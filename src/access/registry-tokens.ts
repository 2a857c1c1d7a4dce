// Bearer tokens from the mirror's own token endpoint (`/auth/token`): opaque to clients, an HMAC-signed claim of
// who and until when, keyed from the data directory's secret key so that every replica with that key accepts them.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  exp: number;
}

export class RegistryTokens {
  constructor(
    private readonly key: Buffer,
    private readonly lifetimeSeconds = 3600,
    private readonly clock: () => number = Date.now,
  ) {}

  issue(username: string): { token: string; expiresIn: number; issuedAt: string } {
    const now = this.clock();
    const claims: TokenClaims = { sub: username, exp: Math.floor(now / 1000) + this.lifetimeSeconds };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `pg1.${body}.${this.sign(body)}`, expiresIn: this.lifetimeSeconds, issuedAt: new Date(now).toISOString() };
  }

  /** The user a token names, or undefined when it is not ours, altered or expired. */
  verify(token: string): string | undefined {
    const [version, body, signature] = token.split('.');
    if (version !== 'pg1' || !body || !signature) return undefined;
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<TokenClaims>;
      if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number' || claims.exp * 1000 <= this.clock()) return undefined;
      return claims.sub;
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
