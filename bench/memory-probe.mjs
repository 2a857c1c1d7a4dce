// Loaded into a server process the bench starts (`node --import <this file> dist/src/main.js ...`). Plain
// JavaScript: a TypeScript file would make Node load its type stripper, megabytes the figures would count. Every BENCH_PROBE_MS (1000) it prints one
// line `{"memoryProbe":{...}}` to stderr with process.memoryUsage() and V8's heap spaces, so a bench can tell the JS
// heap from buffers outside it (external, arrayBuffers) and from native memory (the rest of RSS: TLS and HTTP/2
// sessions, SQLite, the code). Sent with a synchronous write: the line must not itself sit in a stream's buffer.
import { appendFileSync, writeSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const everyMs = Number(process.env.BENCH_PROBE_MS ?? 1000);
/** BENCH_PROBE_GC=1 with `node --expose-gc`: a full collection before each sample, so garbage is not counted. */
/** BENCH_PROBE_FILE: lines appended to this file instead (a bench that does not read the server's stderr). */
const toFile = process.env.BENCH_PROBE_FILE;
const collect = process.env.BENCH_PROBE_GC === '1' && typeof globalThis.gc === 'function' ? globalThis.gc : undefined;

function probe() {
  collect?.();
  const m = process.memoryUsage();
  // Each V8 space's committed size (what RSS sees) and the live bytes in it.
  /** @type {Record<string, { size: number; used: number }>} */
  const spaces = {};
  for (const s of getHeapSpaceStatistics()) if (s.space_size > 0) spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
  const line = { memoryProbe: { at: Date.now(), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces } };
  if (toFile) appendFileSync(toFile, `${JSON.stringify({ pid: process.pid, ...line })}\n`);
  else writeSync(2, `${JSON.stringify(line)}\n`);
}

setInterval(probe, everyMs).unref();
