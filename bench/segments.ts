// Segmented fills over a long path (docs/segmented-fills.md): a cold pull of one big single-layer blob through
// Pullgate against the same pull directly, both over one emulated path to the CDN (test/support/link-emulator.ts:
// a one-way delay each way and a per-connection rate cap), then the warm pull from Pullgate's cache. Real
// docker-registry redirects the blob to the CDN, as Docker Hub does; every pull checks the digest.
// Knobs: BENCH_SIZE_MB (512), BENCH_RTT_MS (100), BENCH_CONN_MBPS (per-connection cap, MiB/s; 5),
// BENCH_CONNECTIONS (segment connections per fill; 8), BENCH_SEGMENT_MB (8), BENCH_ONE_STREAM=0 (skip the
// one-stream pull through Pullgate).
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { writeLargeBlob } from '../test/support/large-blob.js';
import { startMirror } from '../test/support/mirror-app.js';
import { startRealRegistry, type RealRegistry } from '../test/support/real-registry.js';

const MiB = 1024 * 1024;
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 512);
const rttMs = Number(process.env.BENCH_RTT_MS ?? 100);
const connMbps = Number(process.env.BENCH_CONN_MBPS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const segmentMb = Number(process.env.BENCH_SEGMENT_MB ?? 8);

interface Pull {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
  digest: string;
}

/** GETs `url` (following one redirect, as a client of the registry does) and hashes the body. */
async function pull(url: string, agent: Agent): Promise<Pull> {
  const started = performance.now();
  let res = await request(url, { dispatcher: agent });
  if (res.statusCode === 307 || res.statusCode === 302) {
    await res.body.dump();
    res = await request(String(res.headers.location), { dispatcher: agent });
  }
  if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
  const hash = createHash('sha256');
  let ttfbMs = 0;
  let bytes = 0;
  for await (const chunk of res.body) {
    if (bytes === 0) ttfbMs = performance.now() - started;
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { ttfbMs, totalMs: performance.now() - started, bytes, digest: `sha256:${hash.digest('hex')}` };
}

function row(name: string, p: Pull, direct?: Pull): string {
  const mibs = p.bytes / MiB / (p.totalMs / 1000);
  const ratio = direct ? `  ${(p.totalMs / direct.totalMs).toFixed(2)}x direct` : '';
  return `${name.padEnd(26)} first byte ${p.ttfbMs.toFixed(0).padStart(6)} ms   total ${(p.totalMs / 1000).toFixed(2).padStart(7)} s   ${mibs.toFixed(1).padStart(6)} MiB/s${ratio}`;
}

async function main(): Promise<void> {
  const reg: RealRegistry = await startRealRegistry({
    auth: false,
    cdnLink: { delayMs: rttMs / 2, bytesPerSecond: connMbps * MiB },
  });
  const agent = new Agent({ connect: { ca: reg.ca.caCertPem }, connections: 1 });
  try {
    const blob = await writeLargeBlob(reg, 'bench/segments', sizeMb * MiB, 'segments-bench');
    const direct = await pull(`${reg.url}/v2/bench/segments/blobs/${blob.digest}`, agent);
    if (direct.digest !== blob.digest) throw new Error('the direct pull does not match its digest');

    const runMirror = async (segments: Record<string, unknown>, label: string) => {
      const mirror = await startMirror({
        upstreams: [{ name: 'origin', registry: 'origin.bench.test', url: reg.url, ca: reg.caFile, default: true, segments }],
      });
      try {
        const url = `${mirror.url}/v2/bench/segments/blobs/${blob.digest}`;
        const local = new Agent();
        const cold = await pull(url, local);
        for (let i = 0; i < 500 && mirror.app.services.fills.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
        const warm = await pull(url, local);
        await local.close();
        for (const p of [cold, warm]) if (p.digest !== blob.digest) throw new Error(`${label}: a pull does not match its digest`);
        return { cold, warm };
      } finally {
        await mirror.close();
      }
    };
    const single = process.env.BENCH_ONE_STREAM === '0' ? undefined : await runMirror({ connections: 1 }, 'one stream');
    const segmented = await runMirror({ connections, size: `${segmentMb}MiB`, threshold: '32MiB', maxConnections: Math.max(16, connections) }, 'segmented');

    console.log(
      `segmented fills: ${sizeMb} MiB single-layer blob, RTT ${rttMs} ms, cap ${connMbps} MiB/s per connection, ` +
        `${connections} connections x ${segmentMb} MiB segments`,
    );
    console.log(row('direct (one connection)', direct));
    if (single) console.log(row('pullgate cold, one stream', single.cold, direct));
    console.log(row('pullgate cold, segmented', segmented.cold, direct));
    console.log(row('pullgate warm (segmented)', segmented.warm, direct));
    if (single) console.log(row('pullgate warm (one stream)', single.warm, direct));
    const ratio = segmented.cold.totalMs / direct.totalMs;
    console.log(`goal: cold <= 0.40x direct: ${ratio.toFixed(2)}x ${ratio <= 0.4 ? 'met' : 'NOT met'}`);
    console.log(
      `first byte: segmented ${segmented.cold.ttfbMs.toFixed(0)} ms vs one stream ${single ? single.cold.ttfbMs.toFixed(0) : '-'} ms vs direct ${direct.ttfbMs.toFixed(0)} ms`,
    );
  } finally {
    await agent.close();
    await reg.stop();
  }
}

await main();
