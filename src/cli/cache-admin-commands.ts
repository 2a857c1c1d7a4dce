// `pullgate cache ls|pin|unpin|pins`: browsing the cache and pinning images on a running mirror, through its admin
// API (the server keeps the pins live and knows pulls and sizes). `cache stats|verify|purge` work on the data
// directory instead: see cache-commands.ts.
import type { Command } from 'commander';
import type { z } from 'zod';
import type { CacheSummary, imageList, pinList, repositoryList } from '../admin/api-schemas.js';
import { adminAction, AdminClient, withAdmin, type AdminFlags } from './admin-client.js';
import { humanSize, printJson, printTable } from './output.js';

type RepositoryList = z.infer<typeof repositoryList>;
type ImageList = z.infer<typeof imageList>;
type PinList = z.infer<typeof pinList>;

interface JsonFlags extends AdminFlags {
  json?: boolean;
}

export function registerCacheAdminCommands(cache: Command): void {
  withAdmin(
    cache
      .command('ls')
      .argument('[upstream]', "an upstream: list its cached repositories")
      .argument('[repository]', "a repository of that upstream: list its cached images")
      .description('browse the running mirror\'s cache: upstreams, then repositories, then images'),
  )
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(cacheLs));
  withAdmin(cache.command('pin').argument('<pattern>', 'upstream/repository[:tag], * matches within a component').description('never evict matching images'))
    .option('--json', 'print the pins as JSON')
    .action(adminAction((pattern: string, flags: JsonFlags) => changePin('POST', pattern, flags)));
  withAdmin(cache.command('unpin').argument('<pattern>', 'a pin added with `cache pin`').description('remove a pin'))
    .option('--json', 'print the pins as JSON')
    .action(adminAction((pattern: string, flags: JsonFlags) => changePin('DELETE', pattern, flags)));
  withAdmin(cache.command('pins').description('list pins (config file and admin)'))
    .option('--json', 'print the API answer as JSON')
    .action(adminAction(cachePins));
}

const when = (ms: number | null) => (ms === null || ms === 0 ? 'never' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));
const ratio = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);

export async function cacheLs(upstream: string | undefined, repository: string | undefined, flags: JsonFlags): Promise<void> {
  const api = new AdminClient(flags);
  if (upstream === undefined) {
    const summary = await api.get<CacheSummary>('/api/cache/summary');
    if (flags.json) return printJson(summary);
    printTable(
      ['UPSTREAM', 'REPOSITORIES', 'TAGS', 'HIT RATIO', 'SAVED'],
      summary.upstreams.map((u) => [u.name, String(u.repositories), String(u.tags), ratio(u.traffic.hitRatio), humanSize(u.traffic.bytesSaved)]),
    );
    process.stdout.write(`total: ${humanSize(summary.size)} of ${humanSize(summary.maxSize)}, ${summary.blobs} blobs, ${summary.manifests} manifests\n`);
    return;
  }
  if (repository === undefined) {
    const list = await api.get<RepositoryList>('/api/cache/repositories', { upstream });
    if (flags.json) return printJson(list);
    printTable(
      ['REPOSITORY', 'TAGS', 'IMAGES', 'SIZE', 'LAST PULL', 'PULLS'],
      list.repositories.map((r) => [r.repository, String(r.tags), String(r.images), humanSize(r.size), when(r.lastPulledAt), String(r.pulls)]),
    );
    return;
  }
  const list = await api.get<ImageList>('/api/cache/images', { upstream, repository });
  if (flags.json) return printJson(list);
  printTable(
    ['TAGS', 'SIZE', 'PLATFORMS', 'LAST PULL', 'PULLS', 'PINNED', 'SIGNATURE', 'DIGEST'],
    list.images.map((i) => [i.tags.join(',') || '-', humanSize(i.size), i.platforms.join(',') || '-', when(i.lastPulledAt), String(i.pulls), i.pinned ? 'yes' : 'no', signatureText(i.signature), i.digest]),
  );
}

/** `pass: key sha256:0123… ` / `fail (audit): no signature found` / `-` when no policy judged the image. */
export function signatureText(s: ImageList['images'][number]['signature']): string {
  if (!s) return '-';
  const mode = s.mode === 'audit' ? ' (audit)' : '';
  if (s.result === 'pass') return `pass${mode}: ${s.signers.join(' + ') || s.reason || s.requirement}`;
  return `fail${mode}: ${s.reason ?? 'no valid signature'}`;
}

async function changePin(method: 'POST' | 'DELETE', pin: string, flags: JsonFlags): Promise<void> {
  const api = new AdminClient(flags);
  const list = method === 'POST' ? await api.post<PinList>('/api/cache/pins', { pin }) : await api.delete<PinList>('/api/cache/pins', { pin });
  if (flags.json) return printJson(list);
  process.stdout.write(`${method === 'POST' ? 'pinned' : 'unpinned'} ${pin}\n`);
}

export async function cachePins(flags: JsonFlags): Promise<void> {
  const list = await new AdminClient(flags).get<PinList>('/api/cache/pins');
  if (flags.json) return printJson(list);
  printTable(
    ['PIN', 'SOURCE'],
    list.pins.map((p) => [p.pin, p.source]),
  );
}
