// The temp-file writes of a fill (src/mirror/fill-writer.ts): a writev the disk took only part of goes on from
// the first byte not written, and every chunk lands at its offset.
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FillWriter, unwritten } from '../../../src/mirror/fill-writer.js';

test('what is left after a partial write: whole chunks dropped, the cut one sliced, the rest untouched', () => {
  const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hi')];
  assert.deepEqual(unwritten(chunks, 0).map(String), ['abc', 'defg', 'hi']);
  assert.deepEqual(unwritten(chunks, 3).map(String), ['defg', 'hi']);
  assert.deepEqual(unwritten(chunks, 5).map(String), ['fg', 'hi']);
  assert.deepEqual(unwritten(chunks, 8).map(String), ['i']);
  assert.deepEqual(unwritten(chunks, 9), []);
});

test('batches of chunks queued out of step with the disk land in order at their offsets', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fill-writer-'));
  try {
    const handle = await open(join(dir, 'part'), 'w+');
    const writer = new FillWriter(handle);
    const written: number[] = [];
    const parts = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000 + i, i));
    let position = 0;
    for (let i = 0; i < parts.length; i += 4) {
      const batch = parts.slice(i, i + 4);
      writer.write(batch, position, () => written.push(i));
      position += batch.reduce((n, b) => n + b.length, 0);
    }
    await writer.finish();
    await handle.close();
    assert.deepEqual(written, [0, 4, 8, 12, 16]);
    assert.equal(writer.unwritten, 0);
    assert.ok((await readFile(join(dir, 'part'))).equals(Buffer.concat(parts)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
