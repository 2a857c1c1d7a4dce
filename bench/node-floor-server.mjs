// The platform's floor for a cold pull, as a reference peer of `npm run bench` (bench/node-floor.ts): the least a Node.js
// server does for the work a cold Pullgate pull does, with none of Pullgate's logic. undici GET from the upstream
// (following its CDN redirect), SHA-256 of every chunk, the chunks written to a temp file in 512 KiB vectored batches,
// the same chunks to the client over TLS. No index, no followers, no digest check at the end, no cache: every pull is
// cold. Plain JavaScript run by node itself, so that it loads nothing but what it uses.
// Arguments: port file, upstream URL, CA file, certificate file, key file, temp directory.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { serveFloor } from './node-floor-serve.mjs';

const [portFile, upstream, caFile, certFile, keyFile, tempDir] = process.argv.slice(2);
const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
const batchBytes = 512 * 1024;
let pulls = 0;

async function upstreamBlob(path) {
  const first = await request(upstream + path, { dispatcher });
  if (first.statusCode !== 307) return first;
  await first.body.dump();
  return request(first.headers.location, { dispatcher });
}

async function passThrough(req, res) {
  const up = await upstreamBlob(req.url);
  if (up.statusCode !== 200) {
    res.writeHead(up.statusCode).end(await up.body.text());
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': up.headers['content-length'] });
  const temp = join(tempDir, `floor-${pulls++}`);
  const file = await open(temp, 'w');
  const hash = createHash('sha256');
  let batch = [];
  let batched = 0;
  let position = 0;
  let writes = Promise.resolve();
  const flush = () => {
    const [buffers, at] = [batch, position - batched];
    writes = writes.then(() => file.writev(buffers, at));
    batch = [];
    batched = 0;
  };
  up.body.on('data', (chunk) => {
    hash.update(chunk);
    batch.push(chunk);
    batched += chunk.length;
    position += chunk.length;
    if (batched >= batchBytes) flush();
    if (!res.write(chunk)) {
      up.body.pause();
      res.once('drain', () => up.body.resume());
    }
  });
  up.body.once('end', async () => {
    flush();
    await writes;
    await file.close();
    await unlink(temp);
    hash.digest();
    res.end();
  });
  up.body.once('error', (err) => res.destroy(err));
}

serveFloor({ portFile, certFile, keyFile }, passThrough);
