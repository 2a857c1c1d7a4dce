import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { test } from 'node:test';
import { writeAllv } from '../../../src/mirror/temp-file-writes.js';

/** A file that takes at most `limit` bytes per call, as a nearly full disk may (fault injection). */
function stingyFile(limit: number): { handle: FileHandle; bytes: Buffer } {
  const bytes = Buffer.alloc(64);
  const put = (src: Buffer, position: number): number => {
    const n = Math.min(limit, src.length);
    src.copy(bytes, position, 0, n);
    return n;
  };
  const handle = {
    writev: async (buffers: Buffer[], position: number) => ({ bytesWritten: put(Buffer.concat(buffers), position), buffers }),
    write: async (buffer: Buffer, offset: number, length: number, position: number) => ({ bytesWritten: put(buffer.subarray(offset, offset + length), position), buffer }),
  } as unknown as FileHandle;
  return { handle, bytes };
}

test('a vectored temp-file write that the disk takes only in part is finished, with no hole and nothing twice', async () => {
  const parts = [Buffer.from('abcde'), Buffer.from('fgh'), Buffer.from('ijklmnop'), Buffer.from('q')];
  const { handle, bytes } = stingyFile(4);
  await writeAllv(handle, parts, 17, 3);
  assert.equal(bytes.subarray(3, 20).toString(), 'abcdefghijklmnopq');
  assert.equal(bytes[2], 0);
  assert.equal(bytes[20], 0);
});

test('a vectored write that makes no progress fails instead of looping', async () => {
  const { handle } = stingyFile(0);
  await assert.rejects(writeAllv(handle, [Buffer.from('ab'), Buffer.from('cd')], 4, 0), /no progress/);
});
