// `npm run bench:signatures`: what a signature policy costs (docs/signatures.md). A real docker-registry holds
// team/app:1.0 signed with a key (cosign tag scheme) and library/multi:latest signed keyless (a Sigstore bundle
// as a referrer); one mirror serves the same registry as `signed` (under the policy) and `plain` (no policy).
// Warm: pulls of the whole image (manifest and blobs) alternate between the two upstreams, medians of many; the
// goal is signed within 5 % of plain (the verdict is cached). Cold: the first request of a manifest on a fresh
// mirror, with and without the policy, medians of fresh mirrors: the first verification's added latency.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { pushFixtures, type Fixtures } from '../test/support/fixture-images.js';
import { startMirror, type TestMirror } from '../test/support/mirror-app.js';
import { startRealRegistry } from '../test/support/real-registry.js';
import { signaturesConfig, signFixtures } from '../test/support/signed-fixtures.js';
import { mockSigstore, testKey } from '../test/support/sigstore-fixtures.js';

const warmRounds = Number(process.env['BENCH_ROUNDS'] ?? 200);
const coldRuns = Number(process.env['BENCH_RUNS'] ?? 5);
const accept = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json';
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const log = (msg: string): void => void process.stderr.write(`[bench:signatures] ${msg}\n`);

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'pullgate-bench-sig-'));
  const reg = await startRealRegistry();
  const agent = new Agent({ connections: 4 });
  try {
    const fixtures: Fixtures = await pushFixtures(reg);
    const trusted = testKey('p256');
    const sigstore = await mockSigstore();
    await signFixtures(reg, fixtures, { trusted, stranger: testKey('p256'), sigstore });
    const keyFile = join(work, 'trusted.pub');
    const rootFile = join(work, 'trusted_root.json');
    await writeFile(keyFile, trusted.publicPem);
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    const signatures = signaturesConfig({ keyFile, trustedPem: trusted.publicPem, rootFile, issuer: sigstore.issuer, mode: 'enforce' });
    const config = (withPolicy: boolean) => ({
      log: { level: 'warn' },
      upstreams: [
        { name: 'signed', registry: 'signed.test', url: reg.url, ca: reg.caFile, ...(withPolicy ? { signatures } : {}) },
        { name: 'plain', registry: 'plain.test', url: reg.url, ca: reg.caFile },
      ],
    });

    const get = async (mirror: TestMirror, path: string): Promise<Buffer> => {
      const res = await request(`${mirror.url}${path}`, { dispatcher: agent, headers: { accept } });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${body.toString().slice(0, 200)}`);
      return body;
    };
    const pullImage = async (mirror: TestMirror, upstream: string, repository: string, tag: string): Promise<void> => {
      const manifest = JSON.parse((await get(mirror, `/v2/${upstream}.test/${repository}/manifests/${tag}`)).toString()) as { config: { digest: string }; layers: { digest: string }[] };
      await Promise.all([manifest.config.digest, ...manifest.layers.map((l) => l.digest)].map((d) => get(mirror, `/v2/${upstream}.test/${repository}/blobs/${d}`)));
    };

    // Warm: one mirror, both paths cached first, then alternating rounds.
    const mirror = await startMirror(config(true));
    try {
      await pullImage(mirror, 'signed', 'team/app', '1.0');
      await pullImage(mirror, 'plain', 'team/app', '1.0');
      const times: Record<'signed' | 'plain', number[]> = { signed: [], plain: [] };
      const cpu: Record<'signed' | 'plain', number> = { signed: 0, plain: 0 };
      for (let i = 0; i < warmRounds; i++) {
        for (const which of i % 2 === 0 ? (['signed', 'plain'] as const) : (['plain', 'signed'] as const)) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await pullImage(mirror, which, 'team/app', '1.0');
          times[which].push(performance.now() - t0);
          const c = process.cpuUsage(c0);
          cpu[which] += (c.user + c.system) / 1000;
        }
      }
      const ms = { signed: median(times.signed), plain: median(times.plain) };
      console.log(`warm pull of team/app:1.0 (manifest, config and 2 layers), ${warmRounds} rounds each, alternating:`);
      console.log(`  plain (no policy)       median ${ms.plain.toFixed(2)} ms   CPU ${(cpu.plain / warmRounds).toFixed(2)} ms/pull`);
      console.log(`  signed (cached verdict) median ${ms.signed.toFixed(2)} ms   CPU ${(cpu.signed / warmRounds).toFixed(2)} ms/pull`);
      console.log(`  ratio signed/plain: time ${(ms.signed / ms.plain).toFixed(3)}  CPU ${(cpu.signed / cpu.plain).toFixed(3)}  (goal: within 1.05)`);
    } finally {
      await mirror.close();
    }

    // Cold: the first manifest request on fresh mirrors, with and without the policy.
    const first: Record<string, number[]> = {};
    for (let run = 0; run < coldRuns; run++) {
      for (const withPolicy of [true, false]) {
        const m = await startMirror(config(withPolicy));
        try {
          for (const [name, repository, tag] of [['keyed', 'team/app', '1.0'], ['keyless', 'library/multi', 'latest']] as const) {
            const t0 = performance.now();
            await get(m, `/v2/signed.test/${repository}/manifests/${tag}`);
            (first[`${name} ${withPolicy ? 'policy' : 'none'}`] ??= []).push(performance.now() - t0);
          }
        } finally {
          await m.close();
        }
      }
    }
    console.log(`first request of a manifest on a fresh mirror, medians of ${coldRuns}:`);
    for (const name of ['keyed', 'keyless']) {
      const withP = median(first[`${name} policy`] ?? []);
      const without = median(first[`${name} none`] ?? []);
      console.log(`  ${name.padEnd(8)} without policy ${without.toFixed(1)} ms, with ${withP.toFixed(1)} ms: first verification adds ${(withP - without).toFixed(1)} ms`);
    }
  } finally {
    await agent.close();
    await reg.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  log(String((err as Error).stack ?? err));
  process.exitCode = 1;
});
