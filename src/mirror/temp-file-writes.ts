// Positional writes to a fill's temp file (the fill's own handle, shared with the segments written ahead of its
// prefix, docs/segmented-fills.md).
import type { FileHandle } from 'node:fs/promises';

/** Writes all of `buffer` at `position`: a nearly full disk may take part of a write; never leave a hole. */
export async function writeAll(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < buffer.length; ) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset, position + offset);
    if (bytesWritten === 0) throw new Error('temp file write made no progress');
    offset += bytesWritten;
  }
}

/** Writes all of `buffers` (`length` bytes in all) at `position` in one system call when the disk takes them all. */
export async function writeAllv(handle: FileHandle, buffers: Buffer[], length: number, position: number): Promise<void> {
  if (buffers.length === 1) return writeAll(handle, buffers[0] as Buffer, position);
  const { bytesWritten } = await handle.writev(buffers, position);
  if (bytesWritten === length) return;
  // A short write: the rest one buffer at a time.
  let skip = bytesWritten;
  let at = position + bytesWritten;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    const rest = skip > 0 ? buffer.subarray(skip) : buffer;
    skip = 0;
    await writeAll(handle, rest, at);
    at += rest.length;
  }
}
