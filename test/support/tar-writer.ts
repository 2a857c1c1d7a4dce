// A minimal POSIX ustar writer (POSIX.1-2001 pax "ustar" format) for image layers: directories and regular
// files, fixed owner and mtime so the same entries always produce the same bytes.
import { Keystream } from './keystream.js';

export type TarEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; mode?: number; content: Buffer }
  /** A file of `size` keystream bytes, generated while writing. */
  | { type: 'file'; path: string; mode?: number; size: number; seed: string };

const block = 512;
// 2024-01-01T00:00:00Z: a fixed mtime keeps layer digests stable.
const mtime = 1704067200;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(path: string, type: '0' | '5', mode: number, size: number): Buffer {
  const name = type === '5' && !path.endsWith('/') ? `${path}/` : path;
  if (Buffer.byteLength(name) > 100) throw new Error(`tar path longer than 100 bytes: ${name}`);
  const h = Buffer.alloc(block);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write(' '.repeat(8), 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  // The checksum is the byte sum of the header with the checksum field read as eight spaces.
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

const padding = (size: number): Buffer => Buffer.alloc((block - (size % block)) % block);

/** The tar archive as a stream of chunks; keystream files are produced chunk by chunk. */
export function* tarArchive(entries: TarEntry[]): Generator<Buffer> {
  for (const entry of entries) {
    if (entry.type === 'dir') {
      yield header(entry.path, '5', entry.mode ?? 0o755, 0);
      continue;
    }
    if ('content' in entry) {
      yield header(entry.path, '0', entry.mode ?? 0o644, entry.content.length);
      yield entry.content;
      yield padding(entry.content.length);
      continue;
    }
    yield header(entry.path, '0', entry.mode ?? 0o644, entry.size);
    yield* new Keystream(entry.seed).chunks(entry.size);
    yield padding(entry.size);
  }
  // End of archive: two zero blocks.
  yield Buffer.alloc(block * 2);
}
