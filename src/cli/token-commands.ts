// `pullgate token create|ls|rm`: admin API tokens, made in the data directory's database directly. Whoever can
// open that file already holds everything the admin guards, so no password is asked; the server need not run.
// Only the database is opened (not the cache: opening it clears the temp files of a running server's fills).
import { join } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { AdminAuth } from '../admin/admin-auth.js';
import { AdminError } from '../admin/admin-errors.js';
import { tokenCreate } from '../admin/api-schemas.js';
import { openDatabase } from '../cache/db.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../logger.js';
import { adminAction, AdminApiError } from './admin-client.js';
import type { CacheFlags } from './cache-commands.js';
import { UsageError } from './usage-exit.js';
import { printJson, printTable } from './output.js';

interface TokenFlags extends CacheFlags {
  json?: boolean;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('admin API tokens for scripts and the CLI, in the data directory');
  const withStore = (c: Command) =>
    c
      .option('-c, --config <file>', 'YAML config file (env PULLGATE_CONFIG)')
      .option('--data-dir <dir>', 'data directory (env PULLGATE_DATA_DIR)')
      .option('--json', 'print JSON');
  withStore(token.command('create').argument('<name>', 'what the token is for, e.g. ci').description('create a token and print it (shown only once)')).action(
    adminAction(tokenCreateCommand),
  );
  withStore(token.command('ls').description('list tokens (never their value)')).action(adminAction(tokenLs));
  withStore(token.command('rm').argument('<id>', 'token id (see `token ls`)').description('revoke a token')).action(adminAction(tokenRm));
}

async function withAuth<T>(flags: CacheFlags, work: (auth: AdminAuth) => T): Promise<T> {
  const config = await loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides: { dataDir: flags.dataDir } });
  const db = openDatabase(join(config.dataDir, 'pullgate.db'));
  try {
    // Logs go to stderr: stdout carries the token or the JSON answer.
    return work(new AdminAuth(db, createLogger('warn', pino.destination(2)), { sessionTtlMs: config.admin.sessionTtlMs }));
  } catch (err) {
    if (err instanceof AdminError) throw new AdminApiError(err.code, err.message);
    throw err;
  } finally {
    db.close();
  }
}

export async function tokenCreateCommand(name: string, flags: TokenFlags): Promise<void> {
  const parsed = tokenCreate.safeParse({ name });
  if (!parsed.success) throw new UsageError('token name: 1 to 64 characters');
  const created = await withAuth(flags, (auth) => auth.createToken(parsed.data.name));
  if (flags.json) return printJson(created);
  // The token alone on stdout, so that `TOKEN=$(pullgate token create ci)` works; the note goes to stderr.
  process.stdout.write(`${created.token}\n`);
  process.stderr.write(`created API token ${created.name} (id ${created.id}); it is shown only this once\n`);
}

export async function tokenLs(flags: TokenFlags): Promise<void> {
  const tokens = await withAuth(flags, (auth) => auth.tokens());
  if (flags.json) return printJson({ tokens });
  const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString());
  printTable(
    ['ID', 'NAME', 'CREATED', 'LAST USED'],
    tokens.map((t) => [t.id, t.name, when(t.createdAt), when(t.lastUsedAt)]),
  );
}

export async function tokenRm(id: string, flags: TokenFlags): Promise<void> {
  await withAuth(flags, (auth) => auth.revokeToken(id));
  if (flags.json) return printJson({ id, revoked: true });
  process.stdout.write(`revoked API token ${id}\n`);
}
