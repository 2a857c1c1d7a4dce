// The platform's floor for a cold pull when the upstream is read straight from the socket (bench/node-floor.ts): the
// same work as bench/node-floor-server.mjs (GET following the CDN redirect, SHA-256, temp-file writes in 512 KiB
// batches, the bytes to the client over TLS), but the upstream's TLS socket reads into one reused buffer
// (`tls.connect`'s `onread`) and a minimal HTTP/1.1 reader takes the head and a Content-Length body, as Pullgate's
// direct reads do (src/upstream/direct/). Each chunk is copied into a pooled 512 KiB batch that is written to the
// temp file and, in 64 KiB pieces, to the client, and goes back to the pool once both are done. No allocation per
// TLS record: what is left is what Node.js cannot avoid (a JavaScript callback per 16 KiB record each way).
// Bench code only: no chunked bodies, no keep-alive, no limits a hostile upstream would need.
// Arguments: port file, upstream URL, CA file, certificate file, key file, temp directory.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { serveFloor } from './node-floor-serve.mjs';

const [portFile, upstream, caFile, certFile, keyFile, tempDir] = process.argv.slice(2);
const ca = readFileSync(caFile);
const batchBytes = 512 * 1024;
const pieceBytes = 64 * 1024;
const readBuffer = Buffer.allocUnsafeSlow(64 * 1024);
const freeBatches = [];
let pulls = 0;

/** GET `url`: `onHead(status, headers)` once, then `onBody(chunk)` (a view of the read buffer) per read, `onEnd(err)`. */
function get(url, handlers) {
  const u = new URL(url);
  let head = Buffer.alloc(0);
  let remaining = -1;
  const socket = connect({
    host: u.hostname,
    port: Number(u.port || 443),
    ca,
    ...(isIP(u.hostname) ? {} : { servername: u.hostname }),
    onread: {
      buffer: readBuffer,
      callback: (n, buffer) => {
        let chunk = buffer.subarray(0, n);
        if (remaining < 0) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          const [statusLine, ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
          const headers = {};
          for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
          remaining = Number(headers['content-length'] ?? 0);
          chunk = head.subarray(end + 4);
          if (handlers.onHead(Number(statusLine.split(' ')[1]), headers, socket) === false) return void socket.destroy();
        }
        if (chunk.length > 0) {
          remaining -= chunk.length;
          handlers.onBody(chunk, socket);
        }
        if (remaining === 0) {
          remaining = -2;
          socket.destroy();
          handlers.onEnd();
        }
      },
    },
  });
  socket.on('secureConnect', () => socket.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n\r\n`));
  socket.on('error', (err) => handlers.onEnd(err));
}

async function passThrough(req, res) {
  const temp = join(tempDir, `floor-${pulls++}`);
  const file = await open(temp, 'w');
  const hash = createHash('sha256');
  // A batch goes back to the pool once its file write and every client write of it are done.
  const takeBatch = () => ({ buffer: freeBatches.pop() ?? Buffer.allocUnsafeSlow(batchBytes), pending: 1 });
  const settle = (b) => --b.pending === 0 && freeBatches.push(b.buffer);
  let batch = takeBatch();
  let used = 0;
  let sent = 0;
  let position = 0;
  let writes = Promise.resolve();
  const send = () => {
    const b = batch;
    b.pending++;
    const more = res.write(b.buffer.subarray(sent, used), () => settle(b));
    sent = used;
    return more;
  };
  /** The batch to the file and its unsent rest to the client; the next bytes go to a fresh batch. */
  const endBatch = () => {
    const [b, length, at] = [batch, used, position];
    const more = sent < used ? send() : true;
    writes = writes.then(() => file.write(b.buffer, 0, length, at)).then(() => settle(b));
    position += length;
    batch = takeBatch();
    used = 0;
    sent = 0;
    return more;
  };
  const onBody = (chunk, socket) => {
    for (let offset = 0; offset < chunk.length; ) {
      const n = Math.min(chunk.length - offset, batchBytes - used);
      chunk.copy(batch.buffer, used, offset, offset + n);
      hash.update(batch.buffer.subarray(used, used + n));
      used += n;
      offset += n;
      const more = used === batchBytes ? endBatch() : used - sent >= pieceBytes ? send() : true;
      if (!more) {
        socket.pause();
        res.once('drain', () => socket.resume());
      }
    }
  };
  const onEnd = async (err) => {
    if (err) return void res.destroy(err);
    endBatch();
    await writes;
    await file.close();
    await unlink(temp);
    hash.digest();
    res.end();
  };
  const fetch = (url) =>
    get(url, {
      onHead: (status, headers) => {
        if (status === 307) {
          fetch(new URL(headers.location, url).href);
          return false;
        }
        res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': headers['content-length'] });
      },
      onBody,
      onEnd,
    });
  fetch(upstream + req.url);
}

serveFloor({ portFile, certFile, keyFile }, passThrough);
