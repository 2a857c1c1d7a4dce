// Upstream sources: the config file's upstreams (read-only here) and those added through the admin, stored in
// SQLite (password sealed with the secret key, CA bundle as PEM written to the data directory) and applied live.
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { CacheDatabase } from '../cache/db.js';
import type { Config, UpstreamConfig } from '../config/config.js';
import { upstreamConfigOf } from '../config/load.js';
import { upstreamConflicts } from '../config/schema.js';
import { invalidFields, SourceEditError } from '../config/source-errors.js';
import { upstreamInput } from './upstream-input.js';
import type { SecretBox } from '../cache/secret-box.js';
import { checkedSignatures, signaturesOf } from './upstream-signatures.js';
import { newSecretDestination } from './secret-destination.js';

export type UpstreamSourceKind = 'config' | 'builtin' | 'admin';

export interface UpstreamSource {
  config: UpstreamConfig;
  source: UpstreamSourceKind;
  enabled: boolean;
  hasPassword: boolean;
  hasCa: boolean;
}

type Settings = Omit<z.output<typeof upstreamInput>, 'caPem' | 'enabled' | 'auth' | 'watchWebhook'> & {
  auth: { mode: 'mirror' | 'passthrough'; username?: string };
  watchWebhook?: string;
};

/** A parsed input: the settings, and the secrets as given (undefined: omitted, null: remove). */
interface Parsed {
  settings: Settings;
  password: string | null | undefined;
  caPem: string | null | undefined;
  watchWebhook: string | null | undefined;
  enabled: boolean;
}

interface Row {
  name: string;
  settings: string;
  password_enc: string | null;
  ca_pem: string | null;
  enabled: number;
}

export class UpstreamSources {
  private fromFile: UpstreamSource[];

  constructor(
    private readonly db: CacheDatabase,
    private readonly box: SecretBox,
    private readonly config: Pick<Config, 'upstreams' | 'builtinUpstreams' | 'proxy' | 'dataDir'> & { access: Pick<Config['access'], 'login'> },
    private readonly onChange: (effective: UpstreamConfig[], rebuild?: readonly string[]) => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.fromFile = fileSources(config);
  }

  /** A config reload: the file's upstreams are now these; `rebuild` names those whose connections must be rebuilt. */
  setFileUpstreams(config: Pick<Config, 'upstreams' | 'builtinUpstreams'>, rebuild: readonly string[]): void {
    this.fromFile = fileSources(config);
    this.onChange(this.effective(), rebuild);
  }

  private get caDir(): string {
    return join(this.config.dataDir, 'upstream-ca');
  }

  /** Writes the stored CA bundles out (they are read by path) and returns what the mirror should route to. */
  async start(): Promise<UpstreamConfig[]> {
    for (const row of this.rows()) if (row.ca_pem) await this.writeCa(row.name, row.ca_pem);
    return this.effective();
  }

  list(): UpstreamSource[] {
    return [...this.fromFile, ...this.rows().map((r) => this.sourceOf(r))];
  }

  get(name: string): UpstreamSource {
    const found = this.list().find((s) => s.config.name === name);
    if (!found) throw new SourceEditError('NOT_FOUND', `no upstream named ${name}`);
    return found;
  }

  effective(): UpstreamConfig[] {
    return this.list().filter((s) => s.enabled).map((s) => s.config);
  }

  /** Validates `input` as a new (or edited, when `name` is given) admin upstream, without saving anything. */
  parse(input: unknown, editing?: string): Parsed {
    const parsed = upstreamInput.safeParse(input);
    if (!parsed.success) throw invalidFields(parsed.error.issues);
    const { caPem, enabled, auth, watchWebhook, ...rest } = parsed.data;
    if (editing !== undefined && rest.name !== editing) {
      throw new SourceEditError('VALIDATION', 'name: an upstream cannot be renamed; delete it and add a new one', [
        { path: 'name', message: 'an upstream cannot be renamed' },
      ]);
    }
    const stored = editing === undefined ? undefined : this.rows().find((r) => r.name === editing);
    const signatures = checkedSignatures(rest.signatures, stored ? (JSON.parse(stored.settings) as Settings).signatures : undefined);
    const settings: Settings = {
      ...rest,
      signatures,
      auth: { mode: auth.mode, ...(auth.username ? { username: auth.username } : {}) },
      ...(watchWebhook ? { watchWebhook } : {}),
    };
    if (auth.mode === 'passthrough' && (auth.username || auth.password)) {
      throw new SourceEditError('VALIDATION', "auth.username: passthrough mode uses the client's own credentials", [
        { path: 'auth.username', message: "passthrough mode uses the client's own credentials; remove username/password" },
      ]);
    }
    if (auth.password && !auth.username) {
      throw new SourceEditError('VALIDATION', 'auth.username: a password needs a username', [{ path: 'auth.username', message: 'a password needs a username' }]);
    }
    if (auth.mode === 'passthrough' && (rest.access?.login ?? this.config.access.login) === 'required') {
      const message = "a passthrough upstream gets the client's own upstream credentials; it cannot also require a Pullgate login";
      throw new SourceEditError('VALIDATION', `access.login: ${message}`, [{ path: 'access.login', message }]);
    }
    // The same ambiguity rules as the config file, against every other enabled upstream (and every name).
    const others = this.list().filter((s) => s.config.name !== editing);
    const nameTaken = others.some((s) => s.config.name === settings.name);
    if (nameTaken) {
      throw new SourceEditError('CONFLICT', `name: an upstream named ${settings.name} exists`, [{ path: 'name', message: `an upstream named ${settings.name} exists` }]);
    }
    if (enabled) {
      const set = [...others.filter((s) => s.enabled).map((s) => s.config), settings];
      const mine = upstreamConflicts(set).filter((i) => i.path[0] === set.length - 1 || i.path.length === 0);
      if (mine.length) throw invalidFields(mine.map((i) => ({ path: i.path.slice(1), message: i.message })));
    }
    return { settings, password: auth.password, caPem, watchWebhook, enabled };
  }

  async create(input: unknown): Promise<UpstreamSource> {
    const p = this.parse(input);
    const now = this.clock();
    this.db
      .prepare('INSERT INTO upstream_sources (name, settings, password_enc, ca_pem, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(p.settings.name, JSON.stringify(p.settings), p.password ? this.box.seal(p.password) : null, p.caPem ?? null, p.enabled ? 1 : 0, now, now);
    if (p.caPem) await this.writeCa(p.settings.name, p.caPem);
    this.changed();
    return this.get(p.settings.name);
  }

  async update(name: string, input: unknown): Promise<UpstreamSource> {
    const row = this.adminRow(name);
    const p = this.parse(input, name);
    const stored = JSON.parse(row.settings) as Settings;
    // Omitted secrets (password, CA, watch webhook) keep their stored value; null removes it. A kept password goes
    // only where it went before.
    if (p.password === undefined && row.password_enc) {
      const reason = newSecretDestination(stored, p.settings, typeof p.caPem === 'string' && p.caPem !== row.ca_pem);
      if (reason) throw passwordAgain('auth.password', reason);
    }
    const watchWebhook = p.watchWebhook === undefined ? stored.watchWebhook : p.watchWebhook;
    const settings: Settings = { ...p.settings, ...(watchWebhook ? { watchWebhook } : {}) };
    const passwordEnc = p.password === undefined ? row.password_enc : p.password === null ? null : this.box.seal(p.password);
    const caPem = p.caPem === undefined ? row.ca_pem : p.caPem;
    if (passwordEnc && !p.settings.auth.username) {
      throw new SourceEditError('VALIDATION', 'auth.username: a password needs a username', [{ path: 'auth.username', message: 'a password needs a username' }]);
    }
    this.db
      .prepare('UPDATE upstream_sources SET settings = ?, password_enc = ?, ca_pem = ?, enabled = ?, updated_at = ? WHERE name = ?')
      .run(JSON.stringify(settings), passwordEnc, caPem, p.enabled ? 1 : 0, this.clock(), name);
    await this.removeCa(name);
    if (caPem) await this.writeCa(name, caPem);
    this.changed();
    return this.get(name);
  }

  patch(name: string, patch: { enabled?: boolean | undefined; offline?: boolean | undefined }): UpstreamSource {
    const row = this.adminRow(name);
    const settings = JSON.parse(row.settings) as Settings;
    if (patch.offline !== undefined) settings.offline = patch.offline;
    const enabled = patch.enabled ?? row.enabled === 1;
    if (enabled && row.enabled !== 1) {
      // Enabling must not make routing ambiguous.
      const set = [...this.list().filter((s) => s.enabled && s.config.name !== name).map((s) => s.config), settings];
      const mine = upstreamConflicts(set).filter((i) => i.path[0] === set.length - 1 || i.path.length === 0);
      if (mine.length) throw new SourceEditError('CONFLICT', `cannot enable ${name}: ${mine.map((i) => i.message).join('; ')}`);
    }
    this.db.prepare('UPDATE upstream_sources SET settings = ?, enabled = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(settings), enabled ? 1 : 0, this.clock(), name);
    this.changed();
    return this.get(name);
  }

  async remove(name: string): Promise<void> {
    this.adminRow(name);
    this.db.prepare('DELETE FROM upstream_sources WHERE name = ?').run(name);
    await this.removeCa(name);
    this.changed();
  }

  /** An UpstreamConfig for settings being tried (the admin's test action): never stored. */
  async trial(input: unknown): Promise<{ config: UpstreamConfig; cleanup: () => Promise<void> }> {
    const parsed = upstreamInput.safeParse(input);
    if (!parsed.success) throw invalidFields(parsed.error.issues, ['upstream']);
    // A trial sends no watch events: the webhook is not part of it.
    const { caPem, enabled: _enabled, auth, watchWebhook: _watchWebhook, ...rest } = parsed.data;
    // An edit that leaves the password out is tried with the stored one, only where the stored one went before.
    let password = auth.password ?? undefined;
    if (auth.password === undefined) {
      const row = this.rows().find((r) => r.name === rest.name);
      if (row?.password_enc) {
        const reason = newSecretDestination(JSON.parse(row.settings) as Settings, rest, typeof caPem === 'string' && caPem !== row.ca_pem);
        if (reason) throw passwordAgain('upstream.auth.password', reason);
        password = this.box.open(row.password_enc);
      }
    }
    let caPath: string | undefined;
    if (caPem) {
      await mkdir(join(this.caDir, 'trial'), { recursive: true, mode: 0o700 });
      caPath = join(this.caDir, 'trial', `${rest.name}-${process.pid}-${this.clock()}.pem`);
      await writeFile(caPath, caPem, { mode: 0o600 });
    }
    if (!caPath && caPem === undefined) {
      const existing = this.list().find((s) => s.config.name === rest.name);
      if (existing?.config.ca) caPath = existing.config.ca;
    }
    const settings: Settings = { ...rest, auth: { mode: auth.mode, ...(auth.username ? { username: auth.username } : {}) } };
    const config = upstreamConfigOf({ ...settings, auth: { ...settings.auth } }, {
      ...(password ? { password } : {}),
      ...(caPath ? { caPath } : {}),
      ...(this.config.proxy ? { globalProxy: this.config.proxy } : {}),
    });
    const trialPath = caPem ? caPath : undefined;
    return { config, cleanup: async () => (trialPath ? rm(trialPath, { force: true }) : undefined) };
  }

  private changed(): void {
    this.onChange(this.effective());
  }

  private rows(): Row[] {
    return this.db.prepare('SELECT name, settings, password_enc, ca_pem, enabled FROM upstream_sources ORDER BY created_at, name').all() as Row[];
  }

  private adminRow(name: string): Row {
    const row = this.db.prepare('SELECT name, settings, password_enc, ca_pem, enabled FROM upstream_sources WHERE name = ?').get(name) as Row | undefined;
    if (row) return row;
    if (this.fromFile.some((s) => s.config.name === name)) {
      throw new SourceEditError('READ_ONLY', `upstream ${name} is declared in the config file; change it there`);
    }
    throw new SourceEditError('NOT_FOUND', `no upstream named ${name}`);
  }

  private sourceOf(row: Row): UpstreamSource {
    const settings = JSON.parse(row.settings) as Settings;
    const password = row.password_enc ? this.box.open(row.password_enc) : undefined;
    const config = upstreamConfigOf(settings, {
      ...(password ? { password } : {}),
      ...(row.ca_pem ? { caPath: this.caPath(row.name, row.ca_pem) } : {}),
      ...(this.config.proxy ? { globalProxy: this.config.proxy } : {}),
      ...signaturesOf(settings),
    });
    return { config, source: 'admin', enabled: row.enabled === 1, hasPassword: row.password_enc !== null, hasCa: row.ca_pem !== null };
  }

  /** Named by content: a changed bundle is a changed path, so the upstream is rebuilt with it. */
  private caPath(name: string, pem: string): string {
    return join(this.caDir, `${name}.${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`);
  }

  private async writeCa(name: string, pem: string): Promise<void> {
    await mkdir(this.caDir, { recursive: true, mode: 0o700 });
    await writeFile(this.caPath(name, pem), pem, { mode: 0o600 });
  }

  private async removeCa(name: string): Promise<void> {
    const files = await readdir(this.caDir).catch(() => [] as string[]);
    await Promise.all(files.filter((f) => f.startsWith(`${name}.`) && f.endsWith('.pem')).map((f) => rm(join(this.caDir, f), { force: true })));
  }
}

function passwordAgain(path: string, reason: string): SourceEditError {
  const message = `${reason}: give the password again (a stored password is sent only where it was saved for)`;
  return new SourceEditError('VALIDATION', `${path}: ${message}`, [{ path, message }]);
}

function fileSources(config: Pick<Config, 'upstreams' | 'builtinUpstreams'>): UpstreamSource[] {
  const source: UpstreamSourceKind = config.builtinUpstreams ? 'builtin' : 'config';
  return config.upstreams.map((c) => ({ config: c, source, enabled: true, hasPassword: c.auth.password !== undefined, hasCa: c.ca !== undefined }));
}
