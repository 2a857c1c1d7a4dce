// `pullgate prefetch IMAGE...`: start a prefetch job on the running mirror and follow it until every image is done
// or failed. Progress goes to stderr (see progress-bar.ts); `--json` prints the final job on stdout. Exit 1 when any
// image failed. Interrupting the command does not stop the job: the mirror finishes it.
import type { Command } from 'commander';
import type { PrefetchJob } from '../admin/api-schemas.js';
import { adminAction, AdminClient, segment, withAdmin, type AdminFlags } from './admin-client.js';
import { printJson } from './output.js';
import { ProgressView } from './progress-bar.js';

const pollMs = 500;

export interface PrefetchFlags extends AdminFlags {
  platform: string[];
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerPrefetchCommand(program: Command): void {
  withAdmin(
    program
      .command('prefetch')
      .argument('<images...>', 'images as clients name them: alpine, gcr.io/distroless/base:nonroot, quay.io/x/y@sha256:...')
      .description('pull images into the running mirror\'s cache ahead of the clients'),
  )
    .option('--platform <os/arch[/variant]>', 'only this platform of a multi-platform image (repeatable; default: all)', collect, [])
    .option('--json', 'print the finished job as JSON')
    .action(adminAction(prefetch));
}

export async function prefetch(images: string[], flags: PrefetchFlags): Promise<void> {
  const api = new AdminClient(flags);
  const view = new ProgressView(process.stderr);
  let job = await api.post<PrefetchJob>('/api/prefetch', { images, platforms: flags.platform });
  view.update(job);
  while (job.state === 'running') {
    await new Promise((r) => setTimeout(r, pollMs));
    job = await api.get<PrefetchJob>(`/api/prefetch/${segment(job.id)}`);
    view.update(job);
  }
  const failed = job.images.filter((i) => i.state === 'failed');
  if (flags.json) printJson(job);
  else process.stdout.write(failed.length ? `${failed.length} of ${job.images.length} images failed\n` : `${job.images.length} images cached\n`);
  if (failed.length) process.exitCode = 1;
}
