// Prefetch progress on stderr: on a terminal, one bar per image redrawn in place; elsewhere (a log, a pipe, CI),
// one plain line each time an image starts, finishes or fails, so that logs stay readable.
import type { PrefetchJob } from '../admin/api-schemas.js';
import { humanSize } from './output.js';

type ImageState = PrefetchJob['images'][number];

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const fraction = (i: ImageState): number => {
  if (i.state === 'done') return 1;
  return i.bytesTotal > 0 ? Math.min(1, i.bytesDone / i.bytesTotal) : 0;
};

/** One line per image: name, bar, percent, bytes, blobs and state; at most `columns - 1` characters wide. */
export function renderProgress(job: PrefetchJob, width: number): string[] {
  const columns = Math.max(40, width);
  const nameWidth = Math.min(40, Math.max(...job.images.map((i) => i.image.length)));
  const barWidth = Math.max(10, Math.min(30, columns - nameWidth - 60));
  return job.images.map((i) => {
    const f = fraction(i);
    const filled = Math.round(f * barWidth);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}`;
    const name = i.image.length > nameWidth ? `${i.image.slice(0, nameWidth - 1)}…` : i.image.padEnd(nameWidth);
    const state = i.state === 'failed' ? `failed: ${i.error ?? 'unknown error'}` : i.state;
    const line = `${name} ${bar} ${`${Math.floor(f * 100)}%`.padStart(4)}  ${humanSize(i.bytesDone)}/${humanSize(i.bytesTotal)}  ${i.blobsDone}/${i.blobsTotal} blobs  ${state}`;
    return line.length >= columns ? `${line.slice(0, Math.max(1, columns - 2))}…` : line;
  });
}

/** Draws successive snapshots of one job. */
export class ProgressView {
  private drawn = 0;
  private readonly said = new Map<string, ImageState['state']>();

  constructor(private readonly out: ProgressOutput) {}

  update(job: PrefetchJob): void {
    if (this.out.isTTY) this.redraw(job);
    else this.narrate(job);
  }

  private redraw(job: PrefetchJob): void {
    // A terminal of unknown size (0 columns, as some ptys report) gets 80.
    const lines = renderProgress(job, this.out.columns || 80);
    // Back to the first line of the previous drawing, then overwrite each line in full.
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.out.write(`${up}${lines.map((l) => `\r\x1b[2K${l}\n`).join('')}`);
    this.drawn = lines.length;
  }

  private narrate(job: PrefetchJob): void {
    job.images.forEach((i, n) => {
      const key = `${n}:${i.image}`;
      if (i.state === 'queued' || this.said.get(key) === i.state) return;
      this.said.set(key, i.state);
      const detail =
        i.state === 'running'
          ? 'pulling'
          : i.state === 'done'
            ? `done, ${i.blobsDone} blobs, ${humanSize(i.bytesDone)}`
            : `failed: ${i.error ?? 'unknown error'}`;
      this.out.write(`${i.image}: ${detail}\n`);
    });
  }
}
