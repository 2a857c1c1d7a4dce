// WWW-Authenticate challenges (RFC 7235 §2.1, §4.1) as registries send them (RFC 6750 §3, distribution token.md).

export interface Challenge {
  /** auth-scheme, lower-cased: 'bearer', 'basic' (schemes are case-insensitive, RFC 7235 §2.1). */
  scheme: string;
  /** auth-params; names lower-cased (RFC 7235 §2.1), values unquoted and unescaped. */
  params: Record<string, string>;
}

// RFC 7230 §3.2.6 tchar
const tchar = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;
const isSpace = (ch: string | undefined): boolean => ch === ' ' || ch === '\t';

class Cursor {
  pos = 0;
  constructor(private readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  skipSpace(): void {
    while (isSpace(this.peek())) this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (tchar.test(this.peek() ?? '')) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** quoted-string with quoted-pair escapes (RFC 7230 §3.2.6); undefined when unterminated. */
  quoted(): string | undefined {
    let out = '';
    for (this.pos++; !this.done; ) {
      const ch = this.text[this.pos++];
      if (ch === '"') return out;
      out += ch === '\\' ? (this.text[this.pos++] ?? '') : ch;
    }
    return undefined;
  }

  /** A bare value, read up to the next comma or space so that an unquoted URL survives; '=' cannot start one. */
  bare(): string | undefined {
    const start = this.pos;
    while (!this.done && !isSpace(this.peek()) && this.peek() !== ',' && this.peek() !== '"') this.pos++;
    const value = this.text.slice(start, this.pos);
    return value === '' || value.startsWith('=') ? undefined : value;
  }

  /** Skips a token68 or garbage up to the next list comma, stepping over quoted strings. */
  skipItem(): void {
    while (!this.done && this.peek() !== ',') {
      if (this.peek() === '"') this.quoted();
      else this.pos++;
    }
  }

  /** auth-param = token BWS "=" BWS ( token / quoted-string ); rewinds and returns undefined otherwise. */
  param(): [string, string] | undefined {
    const start = this.pos;
    const name = this.token();
    this.skipSpace();
    if (name !== '' && this.peek() === '=') {
      this.pos++;
      this.skipSpace();
      const value = this.peek() === '"' ? this.quoted() : this.bare();
      if (value !== undefined) return [name.toLowerCase(), value];
    }
    this.pos = start;
    return undefined;
  }
}

function parseLine(line: string): Challenge[] {
  const cursor = new Cursor(line);
  const found: { scheme: string; params: Map<string, string> }[] = [];
  let open: Map<string, string> | undefined;
  let afterComma = true;
  for (cursor.skipSpace(); !cursor.done; cursor.skipSpace()) {
    if (cursor.peek() === ',') {
      cursor.pos++;
      afterComma = true;
      continue;
    }
    if (open) {
      const param = cursor.param();
      if (param) {
        // RFC 7235 §2.1: each parameter name MUST only occur once per challenge; keep the first.
        if (!open.has(param[0])) open.set(param[0], param[1]);
        afterComma = false;
        continue;
      }
      if (!afterComma) {
        cursor.skipItem(); // a token68 after the scheme (ignored), or garbage
        continue;
      }
    }
    // A token not followed by '=' after a comma starts the next challenge (RFC 7235 §4.1: 1#challenge).
    afterComma = false;
    const scheme = cursor.token();
    const next = cursor.peek();
    if (scheme === '' || (next !== undefined && next !== ',' && !isSpace(next))) {
      open = undefined;
      cursor.skipItem();
      continue;
    }
    open = new Map();
    found.push({ scheme: scheme.toLowerCase(), params: open });
  }
  // fromEntries defines own properties, so a '__proto__' param cannot touch the prototype.
  return found.map(({ scheme, params }) => ({ scheme, params: Object.fromEntries(params) }));
}

/** Every challenge in one or more header lines, in order; never throws, skips what it cannot read. */
export function parseChallenges(headerValues: string | string[] | undefined): Challenge[] {
  if (headerValues === undefined) return [];
  const lines = typeof headerValues === 'string' ? [headerValues] : headerValues;
  return lines.flatMap((line) => (typeof line === 'string' ? parseLine(line) : []));
}

export function bearerChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((ch) => ch.scheme === 'bearer');
}

const paramOrder = ['realm', 'service', 'scope', 'error'];
const rank = (name: string): number => {
  const i = paramOrder.indexOf(name);
  return i === -1 ? paramOrder.length : i;
};

// quoted-string cannot carry CTLs other than HTAB (RFC 7230 §3.2.6), so they are dropped rather than escaped.
const quote = (value: string): string =>
  `"${value.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '').replace(/[\\"]/g, '\\$&')}"`;

/** `Bearer realm="…",service="…",scope="…"`: one challenge per header line, as containerd reads them. */
export function formatChallenge(ch: Challenge): string {
  const scheme = ch.scheme.charAt(0).toUpperCase() + ch.scheme.slice(1);
  const params = Object.entries(ch.params)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${quote(value)}`)
    .join(',');
  return params === '' ? scheme : `${scheme} ${params}`;
}
