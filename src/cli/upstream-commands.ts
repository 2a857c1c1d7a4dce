// `pullgate upstream ls|add|rm|test|enable|disable`: the upstream sources of a running mirror, through its admin API.
// Upstreams from the config file are listed and tested here but changed only in the file (the API says READ_ONLY).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { TestResult, UpstreamInput, UpstreamView, upstreamList } from '../admin/api-schemas.js';
import type { z } from 'zod';
import { adminAction, AdminClient, segment, withAdmin, type AdminFlags } from './admin-client.js';
import { UsageError } from './usage-exit.js';
import { printJson, printTable } from './output.js';

type UpstreamList = z.infer<typeof upstreamList>;

interface JsonFlag {
  json?: boolean;
}

export interface AddFlags extends AdminFlags, JsonFlag {
  registry: string;
  url: string;
  host: string[];
  default?: boolean;
  username?: string;
  passwordFile?: string;
  caFile?: string;
  passthrough?: boolean;
  tagTtl?: string;
  proxy?: string;
  insecureSkipVerify?: boolean;
  offline?: boolean;
  disabled?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerUpstreamCommands(program: Command): void {
  const upstream = program.command('upstream').description('upstream registries of the running mirror (admin API)');
  withAdmin(upstream.command('ls').description('list every upstream with its source and health'))
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(upstreamLs));
  withAdmin(upstream.command('add').argument('<name>', 'short name: lower-case letters, digits, - and _').description('add an upstream; the mirror routes to it at once'))
    .requiredOption('--registry <host>', 'registry name clients use, e.g. gcr.io or registry.corp.test:5000')
    .requiredOption('--url <url>', 'where to dial, e.g. https://gcr.io')
    .option('--host <hostname>', 'a mirror hostname routed to this upstream (repeatable)', collect, [])
    .option('--default', 'serve this upstream at the mirror root')
    .option('--username <user>', 'upstream username (mirror mode)')
    .option('--password-file <file>', 'file holding the upstream password (never given on the command line)')
    .option('--ca-file <pem>', 'extra CA bundle (PEM) trusted for this upstream')
    .option('--passthrough', "pass clients' own credentials through instead of the mirror's")
    .option('--tag-ttl <duration>', 'how long a cached tag is trusted, e.g. 5m')
    .option('--proxy <url>', 'HTTP(S) proxy for this upstream ("" for a direct connection)')
    .option('--insecure-skip-verify', "don't verify the upstream's TLS certificate")
    .option('--offline', 'serve only what is cached; never contact it')
    .option('--disabled', 'add it switched off')
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(upstreamAdd));
  withAdmin(upstream.command('rm').argument('<name>', 'upstream name').description('delete an upstream added through the admin (its cache stays until purged)'))
    .action(adminAction(upstreamRm));
  withAdmin(upstream.command('test').argument('<name>', 'upstream name').description('try an upstream step by step: resolve, connect, token, manifest'))
    .option('--image <repository:tag>', 'an image to HEAD, e.g. library/alpine:latest')
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(upstreamTest));
  for (const enabled of [true, false]) {
    withAdmin(upstream.command(enabled ? 'enable' : 'disable').argument('<name>', 'upstream name').description(enabled ? 'switch an upstream on' : 'switch an upstream off (its cache stays)'))
      .option('--json', 'print the API answer as JSON')
      .action(adminAction((name: string, flags: AdminFlags & JsonFlag) => upstreamSwitch(name, enabled, flags)));
  }
}

export async function upstreamLs(flags: AdminFlags & JsonFlag): Promise<void> {
  const list = await new AdminClient(flags).get<UpstreamList>('/api/upstreams');
  if (flags.json) return printJson(list);
  printTable(
    ['NAME', 'REGISTRY', 'URL', 'HOSTS', 'SOURCE', 'ENABLED', 'HEALTH'],
    list.upstreams.map((u) => [
      u.name,
      u.registry,
      u.url,
      [...(u.default ? ['(root)'] : []), ...u.hosts].join(',') || '-',
      u.source,
      u.enabled ? 'yes' : 'no',
      health(u),
    ]),
  );
}

function health(u: UpstreamView): string {
  if (!u.enabled) return '-';
  if (u.offline) return 'offline';
  const h = u.health;
  const rate = h.rateLimit?.remaining !== undefined ? ` (rate limit ${h.rateLimit.remaining}${h.rateLimit.limit !== undefined ? `/${h.rateLimit.limit}` : ''} left)` : '';
  if (h.reachable === null) return `not contacted yet${rate}`;
  if (h.reachable) return `ok${rate}`;
  return `down: ${h.lastError?.message ?? 'unreachable'}${rate}`;
}

export async function upstreamAdd(name: string, flags: AddFlags): Promise<void> {
  const body: UpstreamInput = {
    name,
    registry: flags.registry,
    url: flags.url,
    hosts: flags.host,
    default: flags.default === true,
    auth: {
      mode: flags.passthrough ? 'passthrough' : 'mirror',
      ...(flags.username !== undefined ? { username: flags.username } : {}),
      ...(flags.passwordFile !== undefined ? { password: await readSecret(flags.passwordFile, '--password-file') } : {}),
    },
    ...(flags.caFile !== undefined ? { caPem: await readText(flags.caFile, '--ca-file') } : {}),
    ...(flags.tagTtl !== undefined ? { tagTtl: flags.tagTtl } : {}),
    ...(flags.proxy !== undefined ? { proxy: flags.proxy } : {}),
    insecureSkipVerify: flags.insecureSkipVerify === true,
    offline: flags.offline === true,
    enabled: flags.disabled !== true,
  };
  const view = await new AdminClient(flags).post<UpstreamView>('/api/upstreams', body);
  if (flags.json) return printJson(view);
  process.stdout.write(`added upstream ${view.name}: ${view.registry} -> ${view.url}${view.enabled ? '' : ' (disabled)'}\n`);
}

export async function upstreamRm(name: string, flags: AdminFlags): Promise<void> {
  await new AdminClient(flags).delete(`/api/upstreams/${segment(name)}`);
  process.stdout.write(`removed upstream ${name}\n`);
}

export async function upstreamSwitch(name: string, enabled: boolean, flags: AdminFlags & JsonFlag): Promise<void> {
  const view = await new AdminClient(flags).patch<UpstreamView>(`/api/upstreams/${segment(name)}`, { enabled });
  if (flags.json) return printJson(view);
  process.stdout.write(`upstream ${view.name} ${view.enabled ? 'enabled' : 'disabled'}\n`);
}

const stepMark = (ok: boolean) => (ok ? '✓' : '✗');

export async function upstreamTest(name: string, flags: AdminFlags & JsonFlag & { image?: string }): Promise<void> {
  const result = await new AdminClient(flags).post<TestResult>(`/api/upstreams/${segment(name)}/test`, flags.image ? { image: flags.image } : {});
  if (flags.json) printJson(result);
  else {
    for (const s of result.steps) process.stdout.write(`${stepMark(s.ok)} ${s.step.padEnd(8)} ${s.detail} (${s.ms} ms)\n`);
    const failed = result.steps.find((s) => !s.ok);
    process.stdout.write(failed ? `upstream ${name}: the ${failed.step} step failed\n` : `upstream ${name}: every step passed\n`);
  }
  if (!result.ok) process.exitCode = 1;
}

async function readText(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${file} (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
}

/** A password file holds the password alone; one trailing newline (as editors and `echo` leave) is not part of it. */
async function readSecret(file: string, flag: string): Promise<string> {
  const value = (await readText(file, flag)).replace(/\r?\n$/, '');
  if (!value) throw new UsageError(`${flag}: ${file} is empty`);
  return value;
}
