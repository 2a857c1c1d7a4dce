// The temp-file side of a blob fill (blob-fill.ts): batches written in order, one at a time, beside the download;
// written bytes flushed to the disk (fdatasync) in the background every so often, so that the commit's fsync finds
// little left to write and the client's last byte (held for the commit) is not kept waiting for it.
import type { FileHandle } from 'node:fs/promises';
import { writeAllv } from './temp-file-writes.js';

/**
 * Received bytes still on their way to the temp file, at most. Writes run beside the download (a thread-pool
 * round trip per batch would otherwise stall the upstream and every reader); past this bound the fill stops
 * reading the upstream until the disk catches up.
 */
export const maxUnwrittenBytes = 8 * 1024 * 1024;
const syncEveryBytes = 32 * 1024 * 1024;

export class FillWriter {
  /** The first write or sync error; every later step fails with it. */
  error: unknown;
  /** Bytes handed to `write` and not yet on disk. */
  unwritten = 0;
  private writes: Promise<void> = Promise.resolve();
  private unsynced = 0;
  private syncing: Promise<void> | undefined;

  constructor(private readonly handle: FileHandle) {}

  /** Queues `buffers` (`length` bytes in all) for `position`; `written` runs once it is on disk. */
  write(buffers: Buffer[], length: number, position: number, written: () => void): void {
    this.unwritten += length;
    this.writes = this.writes.then(async () => {
      await writeAllv(this.handle, buffers, length, position);
      this.unwritten -= length;
      this.unsynced += length;
      this.syncInBackground();
      written();
    });
    this.writes.catch((err: unknown) => (this.error ??= err));
  }

  /** Settles when every queued write is on disk (or one failed). */
  drained(): Promise<void> {
    return this.writes.catch(() => undefined);
  }

  /** Every write and the background sync done; throws the first error. */
  async finish(): Promise<void> {
    await this.drained();
    await this.syncing;
    if (this.error !== undefined) throw this.error;
  }

  private syncInBackground(): void {
    if (this.syncing || this.unsynced < syncEveryBytes) return;
    this.unsynced = 0;
    this.syncing = this.handle.datasync().then(
      () => void (this.syncing = undefined),
      (err: unknown) => void ((this.error ??= err), (this.syncing = undefined)),
    );
  }
}
