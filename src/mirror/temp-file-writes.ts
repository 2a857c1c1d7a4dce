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
