// `node --import tsx bench/shared-catalog.ts`: what the shared catalog (docs/storage.md, "The shared catalog") costs,
// on a real radosgw and a real docker-registry on this machine. Replica A pulls every fixture image; then replica B,
// which never saw them, pulls them too: its object store requests per image (radosgw's access log) and its
// manifest-by-tag latency against A's warm hit. Then BENCH_TAGS (default 1000) synthetic tags with their manifests are
// put in the bucket and fresh replicas import them: the first import's time, and an import that finds nothing new.
// Medians of BENCH_RUNS (3).
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Descriptor } from '../test/support/oci-layout.js';
import { bucket, get, manifestKey, startSharedBucketPair, tagKey, type Replica } from '../test/support/shared-bucket-pair.js';

const runs = Number(process.env['BENCH_RUNS'] ?? 3);
const tags = Number(process.env['BENCH_TAGS'] ?? 1000);
const log = (msg: string): void => void process.stderr.write(`[bench catalog] ${msg}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const ms = async (run: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};

const pair = await startSharedBucketPair();
try {
  const { a, b, rgw, fixtures } = pair;
  const images = [fixtures.alpine, fixtures.app, fixtures.multi];
  const pull = async (r: Replica, repository: string, tag: string): Promise<void> => {
    const top = await get(r, `/v2/${repository}/manifests/${tag}`);
    if (top.status !== 200) throw new Error(`${repository}:${tag}: HTTP ${top.status}`);
    const doc = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    const blobs: Descriptor[] = doc.config ? [doc.config, ...(doc.layers ?? [])] : [];
    for (const child of doc.manifests ?? []) {
      const c = JSON.parse((await get(r, `/v2/${repository}/manifests/${child.digest}`)).bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
      blobs.push(c.config, ...c.layers);
    }
    for (const blob of blobs) if ((await get(r, `/v2/${repository}/blobs/${blob.digest}`)).status !== 200) throw new Error(`blob ${blob.digest}`);
  };
  for (const image of images) await pull(a, image.repository, image.tag);
  await a.mirror.app.cache.catalog.settled();

  log('B pulls what A pulled (read-through)');
  const perImage: string[] = [];
  for (const image of images) {
    const before = (await rgw.requests()).length;
    await pull(b, image.repository, image.tag);
    const seen = (await rgw.requests()).slice(before).filter((r) => r.path.startsWith(`/${bucket}/`));
    const kinds = new Map<string, number>();
    for (const r of seen) {
      const what = r.path.includes('/tags/') ? 'tag' : r.path.includes('/manifests/') ? 'manifest' : r.path.includes('/blobs/') ? 'blob' : 'list';
      kinds.set(`${r.method} ${what}`, (kinds.get(`${r.method} ${what}`) ?? 0) + 1);
    }
    perImage.push(`${image.repository}:${image.tag}: ${seen.length} requests (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})`);
  }
  const byTag = (r: Replica) => ms(() => get(r, `/v2/${fixtures.alpine.repository}/manifests/${fixtures.alpine.tag}`));
  const warmA: number[] = [];
  const firstOnNewReplica: number[] = [];
  for (let i = 0; i < runs; i++) {
    warmA.push(await byTag(a));
    const fresh = await pair.startReplica();
    firstOnNewReplica.push(await byTag(fresh));
  }

  log(`putting ${tags} synthetic tags and manifests in the bucket`);
  for (let i = 0; i < tags; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, tags - i) }, async (_, j) => {
        const n = i + j;
        const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${createHash('sha256').update(`config ${n}`).digest('hex')}`, size: 10 }, layers: [] }));
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
        await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(digest), Body: bytes, ContentType: 'application/vnd.oci.image.manifest.v1+json' }));
        await pair.s3.send(new PutObjectCommand({ Bucket: bucket, Key: tagKey('hub', `bench/repo${n % 50}`, `t${n}`), Body: JSON.stringify({ digest, validatedAt: Date.now(), replica: 'bench' }) }));
      }),
    );
  }
  const firstImport: number[] = [];
  const noopImport: number[] = [];
  for (let i = 0; i < runs; i++) {
    const fresh = await pair.startReplica();
    const catalog = fresh.mirror.app.cache.catalog;
    await catalog.settled();
    firstImport.push(await ms(() => catalog.sync()));
    noopImport.push(await ms(() => catalog.sync()));
    const totals = fresh.mirror.app.cache.index.totals();
    if (totals.tags < tags) throw new Error(`imported ${totals.tags} tags of ${tags}`);
  }

  const f = (x: number): string => `${x.toFixed(1)} ms`;
  process.stdout.write(
    [
      `shared catalog, radosgw on loopback, medians of ${runs}`,
      ...perImage.map((l) => `  B's first pull of ${l}`),
      `  manifest by tag: warm hit on A ${f(median(warmA))}; first request on a replica that never saw it ${f(median(firstOnNewReplica))}`,
      `  import of ${tags} tags + ${tags} manifests (+ the fixtures) into a fresh replica: ${f(median(firstImport))}; an import with nothing new: ${f(median(noopImport))}`,
      '',
    ].join('\n'),
  );
} finally {
  await pair.stop();
}
