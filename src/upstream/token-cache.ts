// Upstream bearer tokens, cached by (realm, service, sorted scopes) until they expire; concurrent misses for one
// key share one fetch (single-flight). One cache per upstream, so the upstream is part of every key.
export interface Token {
  value: string;
  /** Epoch milliseconds after which the token is not used. */
  expiresAt: number;
}

export type Clock = () => number;

export class TokenCache {
  private readonly tokens = new Map<string, Token>();
  private readonly inflight = new Map<string, Promise<Token>>();

  constructor(private readonly now: Clock = Date.now) {}

  static key(realm: string, service: string | undefined, scopes: string[]): string {
    return JSON.stringify([realm, service ?? '', [...new Set(scopes)].sort()]);
  }

  peek(key: string): Token | undefined {
    const token = this.tokens.get(key);
    if (token && token.expiresAt > this.now()) return token;
    if (token) this.tokens.delete(key);
    return undefined;
  }

  /** The cached token, or the result of one shared `fetch` for every concurrent caller. */
  async get(key: string, fetch: () => Promise<Token>): Promise<Token> {
    const cached = this.peek(key);
    if (cached) return cached;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch().then(
        (token) => {
          this.tokens.set(key, token);
          this.inflight.delete(key);
          return token;
        },
        (err: unknown) => {
          this.inflight.delete(key);
          throw err;
        },
      );
      this.inflight.set(key, pending);
    }
    return pending;
  }

  set(key: string, token: Token): void {
    this.tokens.set(key, token);
  }

  /** Drops a token the upstream called invalid, unless a newer one already replaced it. */
  invalidate(key: string, value: string): void {
    if (this.tokens.get(key)?.value === value) this.tokens.delete(key);
  }
}
