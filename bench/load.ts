// `npm run bench:load`: 200 concurrent clients against the built mirror (`node dist/src/main.js serve`, its own
// process) mixing cached-tag manifest HEADs, cached blob GETs and cold pulls, while the upstream flaps (down,
// 503 storms, truncated and corrupt blobs). Reports throughput, latency and errors per request kind, corrupt
// bodies, and the mirror's RSS and open descriptors over time. Exits 1 when a corrupt body or a non-OCI error
// was seen. Not part of CI (it runs for minutes).
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { FakeUpstream } from '../test/support/fake/fake-upstream.js';
import { spawnChild } from './child.js';
import { mirrorEnv, mirrorNodeArgs, mirrorSetup } from './config.js';
import { FlappingProxy } from './flapping-proxy.js';
import { addImage, kinds, LoadDriver, type KnownImage } from './load-driver.js';
import { formatCounts, seriesSummary, total, type Series } from './load-stats.js';
import { memoryLines, memoryProbeArgs, MemorySamples } from './memory-report.js';
import { cpuSeconds, memory, type Memory } from './proc-stats.js';

const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
};
const cfg = {
  seconds: env('BENCH_LOAD_SECONDS', 180),
  warmupSeconds: env('BENCH_LOAD_WARMUP_SECONDS', 10),
  clients: env('BENCH_LOAD_CLIENTS', 200),
  flapSeconds: env('BENCH_FLAP_SECONDS', 10),
  sampleSeconds: env('BENCH_SAMPLE_SECONDS', 5),
  /** Node arguments for the mirror: the memory settings' unless BENCH_MIRROR_NODE_ARGS says otherwise. */
  mirrorNodeArgs: mirrorNodeArgs(),
  mix: { head: env('BENCH_MIX_HEAD', 45), cachedBlob: env('BENCH_MIX_CACHED_BLOB', 45), cold: env('BENCH_MIX_COLD', 10) },
};
const root = fileURLToPath(new URL('..', import.meta.url));
/** The Pullgate tree whose built dist/ is measured (BENCH_MIRROR_ROOT: another revision, for an A/B). */
const mirrorRoot = process.env.BENCH_MIRROR_ROOT ?? root;
const kib = 1024;
const log = (text: string): void => void process.stderr.write(`[bench:load] ${text}\n`);

/** The upstream's weather, one phase per BENCH_FLAP_SECONDS, cycled. */
const phases = ['healthy', 'down', 'healthy', '503 storm', 'healthy', 'truncated blobs', 'healthy', 'corrupt blobs'] as const;
type Phase = (typeof phases)[number];

async function setPhase(phase: Phase, up: FakeUpstream, proxy: FlappingProxy): Promise<void> {
  up.faults = {};
  if (phase === 'down') return proxy.stop();
  await proxy.start();
  if (phase === '503 storm') up.faults = { serverError: 503 };
  if (phase === 'truncated blobs') up.faults = { truncateBlobAt: 1000 };
  if (phase === 'corrupt blobs') up.faults = { corruptBlob: true };
}

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function main(): Promise<void> {
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    log('building dist/ (tsc -p tsconfig.build.json)');
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-load-'));
  const up = await new FakeUpstream().start();
  const proxy = new FlappingProxy('127.0.0.1', Number(new URL(up.url).port));
  await proxy.start();
  const cleanup: Array<() => Promise<unknown>> = [() => up.stop(), () => proxy.stop(), () => rm(dir, { recursive: true, force: true })];
  try {
    const sizes = [16 * kib, 64 * kib, 256 * kib, 1024 * kib];
    const warm: KnownImage[] = Array.from({ length: 20 }, (_, i) => addImage(up, `warm/w${i}`, 'latest', [sizes[i % 4]!, sizes[(i + 1) % 4]!]));
    const configPath = join(dir, 'pullgate.yaml');
    await writeFile(
      configPath,
      stringify({
        listen: { http: '127.0.0.1:0' },
        dataDir: join(dir, 'data'),
        // The default level: one access line per request is part of what the mirror costs in production.
        log: { level: 'info' },
        // Short tag TTL: cached-tag HEADs keep revalidating against the flapping upstream (and serve stale).
        upstreams: [{ name: 'up', registry: 'docker.io', url: proxy.url, default: true, tagTtl: '5s' }],
        // Cold pulls keep adding blobs: eviction runs during the load, and the warm images are pinned.
        cache: { maxSize: '512MiB', pins: ['up/warm/*'] },
      }),
    );
    const errorLines: string[] = [];
    const probe = new MemorySamples();
    let listening: (url: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (listening = resolve));
    const mirror = spawnChild({
      name: 'pullgate mirror',
      command: process.execPath,
      args: [...cfg.mirrorNodeArgs, ...memoryProbeArgs(), join(mirrorRoot, 'dist', 'src', 'main.js'), 'serve', '--config', configPath],
      env: mirrorEnv(),
      cwd: dir,
      onLine: (line) => {
        if (probe.onLine(line)) return;
        if (line.includes('"pullgate listening"')) listening((JSON.parse(line) as { http: string }).http);
        else if (/"level":(50|60)/.test(line)) errorLines.push(line);
      },
    });
    cleanup.unshift(() => mirror.stop(5_000));
    const url = await Promise.race([
      ready,
      mirror.exit.then(() => Promise.reject(new Error(`mirror exited:\n${mirror.output()}`))),
      sleep(30_000).then(() => Promise.reject(new Error(`mirror not listening after 30 s:\n${mirror.output()}`))),
    ]);
    log(`mirror pid ${mirror.pid} at ${url}; upstream behind a flapping proxy at ${proxy.url}`);
    await sleep(2_000);
    const idleMemory = probe.latest();

    const driver = new LoadDriver(url, up, warm, cfg.mix, () => [sizes[Math.floor(Math.random() * 3)]!], cfg.clients);
    cleanup.unshift(async () => {
      driver.headAgent.destroy();
      if (!driver.pool.closed && !driver.pool.destroyed) await driver.pool.destroy();
    });
    await driver.prime();

    const rss: Series = { at: [], values: [] };
    /** /proc's split of RSS at its highest sample and at the last. */
    let procPeak: Memory | undefined;
    let procLast: Memory | undefined;
    const fds: Series = { at: [], values: [] };
    let measuring = false;
    let t0 = performance.now();
    const sample = async (): Promise<void> => {
      if (!measuring || mirror.exited()) return;
      const at = (performance.now() - t0) / 1000;
      rss.at.push(at);
      const m = await memory(mirror.pid);
      rss.values.push(m.rss);
      procLast = m;
      if (procPeak === undefined || m.rss > procPeak.rss) procPeak = m;
      fds.at.push(at);
      fds.values.push(await openDescriptors(mirror.pid));
    };
    const sampler = setInterval(() => void sample(), cfg.sampleSeconds * 1000);

    const phaseLog: string[] = [];
    let phaseIndex = 0;
    const flapper = setInterval(() => {
      phaseIndex = (phaseIndex + 1) % phases.length;
      const phase = phases[phaseIndex]!;
      if (measuring) phaseLog.push(`${((performance.now() - t0) / 1000).toFixed(0)}s ${phase}`);
      void setPhase(phase, up, proxy);
    }, cfg.flapSeconds * 1000);

    log(`${cfg.clients} clients, warm-up ${cfg.warmupSeconds}s, then measuring ${cfg.seconds}s; the upstream changes every ${cfg.flapSeconds}s`);
    const running = driver.run(cfg.clients);
    await sleep(cfg.warmupSeconds * 1000);
    driver.stats = LoadDriver.freshStats();
    t0 = performance.now();
    const cpu0 = await cpuSeconds(mirror.pid);
    measuring = true;
    probe.mark();
    await sample();
    await sleep(cfg.seconds * 1000);
    const measuredSeconds = (performance.now() - t0) / 1000;
    const stats = driver.stats;
    driver.stats = LoadDriver.freshStats(); // requests still in flight finish outside the figures
    const cpu = (await cpuSeconds(mirror.pid)) - cpu0;
    await sample();
    const endMemory = probe.latest();
    measuring = false;
    clearInterval(flapper);
    clearInterval(sampler);
    driver.stop();
    await running;
    await setPhase('healthy', up, proxy);
    await driver.pool.close();
    driver.headAgent.destroy();
    await sleep(2_000);
    const idleFds = await openDescriptors(mirror.pid);
    const { rss: idleRss, hwm: peakRss } = await memory(mirror.pid);
    const alive = !mirror.exited();

    const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
    const lines: string[] = [];
    lines.push(`## Load: ${cfg.clients} clients, ${measuredSeconds.toFixed(0)} s measured (after ${cfg.warmupSeconds} s warm-up), upstream flapping every ${cfg.flapSeconds} s`);
    lines.push(`mirror process: ${mirrorSetup()}`);
    if (mirrorRoot !== root) lines.push(`mirror built from ${mirrorRoot}`);
    lines.push('');
    lines.push('| request kind | requests | req/s | p50 ms | p99 ms | ok | OCI errors | non-OCI errors | connection errors | corrupt bodies |');
    lines.push('|---|---:|---:|---:|---:|---:|---|---:|---|---:|');
    let corrupt = 0;
    let nonOci = 0;
    let all = 0;
    for (const kind of kinds) {
      const s = stats.get(kind)!;
      corrupt += s.corrupt;
      nonOci += s.nonOci;
      all += s.count;
      lines.push(
        `| ${kind} | ${s.count} | ${(s.count / measuredSeconds).toFixed(1)} | ${s.percentile(50).toFixed(1)} | ${s.percentile(99).toFixed(1)} | ${s.ok} | ${formatCounts(s.oci)} | ${s.nonOci} | ${formatCounts(s.connection)} | ${s.corrupt} |`,
      );
    }
    lines.push(`| all | ${all} | ${(all / measuredSeconds).toFixed(1)} | | | | ${[...stats.values()].reduce((n, s) => n + total(s.oci), 0)} | ${nonOci} | ${[...stats.values()].reduce((n, s) => n + total(s.connection), 0)} | ${corrupt} |`);
    lines.push('');
    const r = seriesSummary(rss);
    const f = seriesSummary(fds);
    lines.push(`mirror RSS (every ${cfg.sampleSeconds} s): first ${mib(r.first)}, last ${mib(r.last)}, max ${mib(r.max)}, min ${mib(r.min)}; idle after the load ${mib(idleRss)}; high-water mark (VmHWM, start to end) ${mib(peakRss)}`);
    lines.push(...memoryLines(probe, idleMemory, endMemory));
    const split = (m: Memory | undefined): string => (m ? `anonymous ${mib(m.anon)}, files ${mib(m.file)}, shared ${mib(m.shmem)}` : 'no sample');
    lines.push(`mirror RSS by kind (/proc): at the highest sample ${split(procPeak)}; at the last ${split(procLast)}`);
    lines.push(`mirror open descriptors: first ${f.first}, last ${f.last}, max ${f.max}, min ${f.min}; idle after the clients disconnected ${idleFds}`);
    lines.push(`mirror CPU: ${cpu.toFixed(1)} s over ${measuredSeconds.toFixed(0)} s (${(cpu / measuredSeconds).toFixed(2)} cores); process alive at the end: ${alive}`);
    lines.push(`mirror log lines at error level or above: ${errorLines.length}`);
    lines.push(`RSS series (MiB): ${rss.values.map((v) => (v / 1024 / 1024).toFixed(0)).join(' ')}`);
    lines.push(`fd series: ${fds.values.join(' ')}`);
    lines.push(`upstream phases: ${phaseLog.join(', ')}`);
    lines.push(`cold pulls started: image sizes 16-256 KiB layers + a shared config; warm set: 20 tags, 40 layers of 16 KiB-1 MiB; mix HEAD:cached blob:cold = ${cfg.mix.head}:${cfg.mix.cachedBlob}:${cfg.mix.cold}`);
    for (const kind of kinds) for (const s of stats.get(kind)!.samples) lines.push(`sample (${kind}): ${s}`);
    for (const line of errorLines.slice(0, 5)) lines.push(`mirror error log: ${line.slice(0, 400)}`);
    const goal = corrupt === 0 && nonOci === 0 && alive;
    lines.push('');
    lines.push(`goal (zero corrupt bytes, zero non-OCI errors, mirror alive): ${goal ? 'met' : 'NOT MET'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!goal) process.exitCode = 1;
  } finally {
    for (const step of cleanup) await step().catch((err: unknown) => log(`cleanup: ${String(err)}`));
  }
}

await main();
