// `pullgate watch ls|add|rm|run`: the watch lists of a running mirror (docs/watch.md), through its admin API. Entries
// from the config file are listed and run here but changed only in the file (the API says READ_ONLY).
import type { Command } from 'commander';
import type { z } from 'zod';
import type { watchEntryView, watchList, watchRunResult } from '../admin/watch-schemas.js';
import { adminAction, AdminClient, segment, withAdmin, type AdminFlags } from './admin-client.js';
import { humanSize, printJson, printTable } from './output.js';

type WatchList = z.infer<typeof watchList>;
type WatchEntryView = z.infer<typeof watchEntryView>;
type WatchRunResult = z.infer<typeof watchRunResult>;

interface JsonFlags extends AdminFlags {
  json?: boolean;
}

export interface WatchAddFlags extends JsonFlags {
  tag: string[];
  newest?: string;
  maxTags?: string;
  platform: string[];
  every?: string;
  cron?: string;
  jitter?: string;
  keep?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerWatchCommands(program: Command): void {
  const watch = program.command('watch').description('watch lists of the running mirror: images kept fresh on a schedule (admin API)');
  withAdmin(watch.command('ls').description('list watch entries with their schedule, last run and tags, and each upstream\'s quota'))
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(watchLs));
  withAdmin(
    watch
      .command('add')
      .argument('<upstream>', 'upstream name')
      .argument('<repository>', 'repository as on the upstream, e.g. library/node')
      .description('watch an image: run on a schedule, fetch each tag\'s new image before clients ask'),
  )
    .option('--tag <tag>', 'a tag or a pattern with * (repeatable; default latest)', collect, [])
    .option('--newest <n>', 'with patterns: only the newest N tags by version')
    .option('--max-tags <n>', 'with patterns: at most N tags per run (default 50)')
    .option('--platform <os/arch>', 'a platform to fetch (repeatable; default: what clients pulled, else all)', collect, [])
    .option('--every <duration>', 'run every interval, e.g. 6h')
    .option('--cron <expression>', 'run at the times of a cron expression (UTC), e.g. "0 6 * * 1-5"')
    .option('--jitter <duration>', 'start each run up to this much later, e.g. 10m')
    .option('--keep <n>', 'digests of each tag kept from eviction (default 3)')
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(watchAdd));
  withAdmin(watch.command('rm').argument('<id>', 'entry id as `watch ls` prints it').description('stop watching (an entry added through the admin)')).action(adminAction(watchRm));
  withAdmin(watch.command('run').argument('<id>', 'entry id as `watch ls` prints it').description('run an entry now and print what changed'))
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(watchRun));
}

const when = (ms: number | null | undefined) => (ms === null || ms === undefined || ms === 0 ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
const short = (digest: string | null) => (digest ? digest.replace(/^sha256:/, '').slice(0, 12) : '-');

function duration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

export const scheduleText = (e: Pick<WatchEntryView, 'everyMs' | 'cron' | 'jitterMs'>): string =>
  `${e.everyMs !== undefined ? `every ${duration(e.everyMs)}` : `cron ${e.cron ?? '?'}`}${e.jitterMs ? ` +${duration(e.jitterMs)}` : ''}`;

const lastRunText = (e: WatchEntryView): string =>
  e.running
    ? 'running'
    : e.lastRun
      ? `${e.lastRun.result} ${when(e.lastRun.finishedAt ?? e.lastRun.startedAt)}${e.lastRun.skipped > 0 ? ` (${e.lastRun.skipped} tags over maxTags skipped)` : ''}`
      : 'never';

export async function watchLs(flags: JsonFlags): Promise<void> {
  const list = await new AdminClient(flags).get<WatchList>('/api/watch');
  if (flags.json) return printJson(list);
  if (list.entries.length === 0) process.stdout.write('no watch entries\n');
  else {
    printTable(
      ['ENTRY', 'SOURCE', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'TAGS'],
      list.entries.map((e) => [
        e.id,
        e.source,
        scheduleText(e),
        when(e.nextRun),
        lastRunText(e),
        e.tagStates.map((t) => `${t.tag}=${t.error ? 'error' : short(t.digest)}`).join(',') || '-',
      ]),
    );
  }
  for (const q of list.quotas) {
    if (q.remaining === undefined && q.heldBack.watch === 0 && q.heldBack.live === 0 && q.pausedUntil === undefined) continue;
    const left = q.remaining !== undefined ? `${q.remaining}${q.limit !== undefined ? `/${q.limit}` : ''} left${q.windowSeconds ? ` per ${duration(q.windowSeconds * 1000)}` : ''}` : 'quota unknown';
    const paused = q.pausedUntil !== undefined ? `, paused until ${when(q.pausedUntil)}` : '';
    process.stdout.write(`quota ${q.upstream}: ${left}, reserve ${q.reserve}${paused}; held back: ${q.heldBack.watch} watch, ${q.heldBack.live} live\n`);
  }
}

/** A number goes as a number; anything else as given, so that the server's field error names it. */
const num = (v: string): number | string => (/^\d+$/.test(v) ? Number(v) : v);

export async function watchAdd(upstream: string, repository: string, flags: WatchAddFlags): Promise<void> {
  const body = {
    upstream,
    repository,
    ...(flags.tag.length ? { tags: flags.tag } : {}),
    ...(flags.newest !== undefined ? { newest: num(flags.newest) } : {}),
    ...(flags.maxTags !== undefined ? { maxTags: num(flags.maxTags) } : {}),
    ...(flags.platform.length ? { platforms: flags.platform } : {}),
    ...(flags.every !== undefined ? { every: flags.every } : {}),
    ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
    ...(flags.jitter !== undefined ? { jitter: flags.jitter } : {}),
    ...(flags.keep !== undefined ? { keep: num(flags.keep) } : {}),
  };
  const view = await new AdminClient(flags).post<WatchEntryView>('/api/watch', body);
  if (flags.json) return printJson(view);
  process.stdout.write(`watching ${view.id} (${scheduleText(view)}), next run ${when(view.nextRun)}\n`);
}

export async function watchRm(id: string, flags: AdminFlags): Promise<void> {
  await new AdminClient(flags).delete(`/api/watch/${segment(id)}`);
  process.stdout.write(`stopped watching ${id}\n`);
}

export async function watchRun(id: string, flags: JsonFlags): Promise<void> {
  const r = await new AdminClient(flags, 30 * 60_000).post<WatchRunResult>(`/api/watch/${segment(id)}/run`);
  if (flags.json) printJson(r);
  else {
    process.stdout.write(`${id}: ${r.result}, ${r.changed} tag${r.changed === 1 ? '' : 's'} moved, ${humanSize(r.bytes)} fetched${r.message ? ` (${r.message})` : ''}\n`);
    for (const t of r.entry.tagStates) process.stdout.write(`  ${t.tag}  ${t.digest ?? '-'}${t.error ? `  error: ${t.error}` : ''}\n`);
  }
  if (r.result === 'failed') process.exitCode = 1;
}
