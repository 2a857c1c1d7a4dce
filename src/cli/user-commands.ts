// `pullgate user add|rm|ls|hash`: Pullgate's own users for the registry face (access.login: required), kept in the
// data directory's database (passwords as scrypt hashes). Like tokens, made directly in the data directory: whoever
// can open it already holds what a login guards. `hash` prints a hash for `access.users` in the config file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { RegistryUsers } from '../access/registry-users.js';
import { hashPassword } from '../access/password.js';
import { registryUserCreate } from '../admin/api-schemas.js';
import { openDatabase } from '../cache/db.js';
import { loadConfig } from '../config/load.js';
import { adminAction, AdminApiError } from './admin-client.js';
import type { CacheFlags } from './cache-commands.js';
import { UsageError } from './usage-exit.js';
import { printJson, printTable } from './output.js';

interface UserFlags extends CacheFlags {
  json?: boolean;
  passwordFile?: string;
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description("Pullgate's own registry users (for access.login: required), in the data directory");
  const withStore = (c: Command) =>
    c
      .option('-c, --config <file>', 'YAML config file (env PULLGATE_CONFIG)')
      .option('--data-dir <dir>', 'data directory (env PULLGATE_DATA_DIR)')
      .option('--json', 'print JSON');
  withStore(user.command('add').argument('<username>', 'the name clients log in with').description('add a user, or set its password'))
    .requiredOption('--password-file <file>', 'a file holding the password (never given on the command line)')
    .action(adminAction(userAdd));
  withStore(user.command('ls').description('list users (never their passwords)')).action(adminAction(userLs));
  withStore(user.command('rm').argument('<username>', 'the user to remove').description('remove a user')).action(adminAction(userRm));
  user
    .command('hash')
    .description('print a password hash for access.users in the config file')
    .requiredOption('--password-file <file>', 'a file holding the password')
    .action(adminAction(userHash));
}

async function readPassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new UsageError(`cannot read --password-file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

async function withUsers<T>(flags: CacheFlags, work: (users: RegistryUsers) => Promise<T> | T): Promise<T> {
  const config = await loadConfig({ ...(flags.config ? { file: flags.config } : {}), overrides: { dataDir: flags.dataDir } });
  // Only the database: opening the cache would clear a running server's fills in progress.
  const db = openDatabase(join(config.dataDir, 'pullgate.db'));
  try {
    return await work(new RegistryUsers(db, config.access.users));
  } finally {
    db.close();
  }
}

export async function userAdd(username: string, flags: UserFlags): Promise<void> {
  const password = await readPassword(flags.passwordFile ?? '');
  const parsed = registryUserCreate.safeParse({ username, password });
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  await withUsers(flags, async (users) => {
    if (users.list().some((u) => u.username === username && u.source === 'config')) {
      throw new AdminApiError('READ_ONLY', `user ${username} is declared in the config file; change it there`);
    }
    await users.add(parsed.data.username, parsed.data.password);
  });
  if (flags.json) return printJson({ username, saved: true });
  process.stdout.write(`saved user ${username}\n`);
}

export async function userLs(flags: UserFlags): Promise<void> {
  const list = await withUsers(flags, (users) => users.list());
  if (flags.json) return printJson({ users: list });
  printTable(['USERNAME', 'SOURCE', 'CREATED'], list.map((u) => [u.username, u.source, u.createdAt === null ? '-' : new Date(u.createdAt).toISOString()]));
}

export async function userRm(username: string, flags: UserFlags): Promise<void> {
  const removed = await withUsers(flags, (users) => users.remove(username));
  if (!removed) throw new AdminApiError('NOT_FOUND', `no stored user ${username}`);
  if (flags.json) return printJson({ username, removed: true });
  process.stdout.write(`removed user ${username}\n`);
}

export async function userHash(flags: UserFlags): Promise<void> {
  const password = await readPassword(flags.passwordFile ?? '');
  if (password.length < 8) throw new UsageError('the password needs at least 8 characters');
  process.stdout.write(`${await hashPassword(password)}\n`);
}
