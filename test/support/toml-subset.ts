// A strict reader for the small part of TOML (toml.io v1.0.0) that client config snippets use: comments,
// `[table]` and `[[array.of.tables]]` headers with bare or quoted keys, and `key = value` where a value is a basic
// string, a boolean, an integer or a one-line array of those. Anything else is an error, so a test that reads a
// snippet with it checks the snippet's structure, not just a few substrings.
export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable { [key: string]: TomlValue }

const escapes: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

class Cursor {
  i = 0;
  constructor(readonly text: string, readonly line: number) {}
  fail(what: string): never {
    throw new Error(`TOML line ${this.line}: ${what} at column ${this.i + 1}: ${this.text}`);
  }
  skipSpace(): void {
    while (this.text[this.i] === ' ' || this.text[this.i] === '\t') this.i++;
  }
  eat(s: string): boolean {
    this.skipSpace();
    if (!this.text.startsWith(s, this.i)) return false;
    this.i += s.length;
    return true;
  }
  string(): string {
    if (!this.eat('"')) this.fail('expected "');
    let out = '';
    for (;;) {
      const ch = this.text[this.i++];
      if (ch === undefined) this.fail('unterminated string');
      if (ch === '"') return out;
      if (ch.charCodeAt(0) < 0x20 && ch !== '\t') this.fail('raw control character in a string');
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = this.text[this.i++] ?? '';
      if (e === 'u') {
        const hex = this.text.slice(this.i, this.i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
        out += String.fromCodePoint(parseInt(hex, 16));
        this.i += 4;
      } else if (escapes[e] !== undefined) out += escapes[e];
      else this.fail(`bad escape \\${e}`);
    }
  }
  key(): string[] {
    const parts: string[] = [];
    do {
      this.skipSpace();
      if (this.text[this.i] === '"') parts.push(this.string());
      else {
        const bare = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.i))?.[0];
        if (bare === undefined) this.fail('expected a key');
        parts.push(bare);
        this.i += bare.length;
      }
    } while (this.eat('.'));
    return parts;
  }
  value(): TomlValue {
    this.skipSpace();
    if (this.text[this.i] === '"') return this.string();
    if (this.eat('true')) return true;
    if (this.eat('false')) return false;
    if (this.eat('[')) {
      const items: TomlValue[] = [];
      while (!this.eat(']')) {
        items.push(this.value());
        if (!this.eat(',') && !this.text.startsWith(']', (this.skipSpace(), this.i))) this.fail('expected , or ]');
      }
      return items;
    }
    const int = /^[+-]?\d+/.exec(this.text.slice(this.i))?.[0];
    if (int === undefined) this.fail('expected a value');
    this.i += int.length;
    return Number(int);
  }
  end(): void {
    this.skipSpace();
    if (this.i < this.text.length && this.text[this.i] !== '#') this.fail('unexpected text');
  }
}

const isTable = (v: TomlValue | undefined): v is TomlTable => typeof v === 'object' && !Array.isArray(v);

export function parseTomlSubset(text: string): TomlTable {
  const root: TomlTable = {};
  const defined = new Set<TomlTable>();
  let current = root;
  text.split('\n').forEach((raw, n) => {
    const c: Cursor = new Cursor(raw, n + 1);
    c.skipSpace();
    if (c.i === raw.length || raw[c.i] === '#') return;
    if (c.eat('[[') || c.eat('[')) {
      const array = raw.trimStart().startsWith('[[');
      const path = c.key();
      if (!c.eat(array ? ']]' : ']')) c.fail('expected ]');
      c.end();
      let t = root;
      for (const [k, part] of path.entries()) {
        if (k === path.length - 1 && array) {
          const list = (t[part] ??= []);
          if (!Array.isArray(list)) c.fail(`${part} is not an array of tables`);
          const table: TomlTable = {};
          list.push(table);
          t = table;
          break;
        }
        const entry = (t[part] ??= {});
        const next = Array.isArray(entry) ? entry[entry.length - 1] : entry;
        if (!isTable(next)) c.fail(`${part} is not a table`);
        t = next;
      }
      if (!array && defined.has(t)) c.fail('table defined twice');
      defined.add(t);
      current = t;
      return;
    }
    const path = c.key();
    if (!c.eat('=')) c.fail('expected =');
    const value = c.value();
    c.end();
    let t = current;
    for (const part of path.slice(0, -1)) {
      const next = (t[part] ??= {});
      if (!isTable(next)) c.fail(`${part} is not a table`);
      t = next;
    }
    const leaf = path[path.length - 1] ?? '';
    if (leaf in t) c.fail(`duplicate key ${leaf}`);
    t[leaf] = value;
  });
  return root;
}
