// Big blobs for benchmarks, written straight into distribution's filesystem layout instead of pushed: a
// 1 GiB push through the registry would cost far more time than the thing being measured.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { Keystream } from './keystream.js';
import { HashTap } from './oci-layout.js';
import type { RealRegistry } from './real-registry.js';

export interface LargeBlob {
  digest: string;
  size: number;
}

const v2 = ['docker', 'registry', 'v2'];

/** Where distribution's filesystem driver keeps a blob's bytes (registry/storage/paths.go). */
export function blobDataPath(storageRoot: string, hex: string): string {
  return join(storageRoot, ...v2, 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * Places `sizeBytes` of keystream (seeded by repository, size and `seed`) as a blob of `repository`, then
 * checks that the registry answers a HEAD for it (307 to the CDN, or 200 with the right length).
 */
export async function writeLargeBlob(reg: RealRegistry, repository: string, sizeBytes: number, seed = 'large-blob'): Promise<LargeBlob> {
  const tmp = join(reg.dir, `large-blob-${process.pid}-${Date.now()}.tmp`);
  const tap = new HashTap();
  try {
    const stream = new Keystream(`${seed}/${repository}/${sizeBytes}`);
    await pipeline(Readable.from(stream.chunks(sizeBytes)), tap, createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const hex = tap.hash.digest('hex');
  const digest = `sha256:${hex}`;
  const data = blobDataPath(reg.storageRoot, hex);
  await mkdir(join(data, '..'), { recursive: true });
  await rename(tmp, data);
  // The repository link is what makes the blob visible under /v2/<repository>/blobs/<digest>.
  const linkDir = join(reg.storageRoot, ...v2, 'repositories', repository, '_layers', 'sha256', hex);
  await mkdir(linkDir, { recursive: true });
  await writeFile(join(linkDir, 'link'), digest);
  await assertServed(reg, repository, digest, sizeBytes);
  return { digest, size: sizeBytes };
}

/** HEAD through the registry only: following the redirect would add a request to the CDN's records. */
async function assertServed(reg: RealRegistry, repository: string, digest: string, size: number): Promise<void> {
  const headers: Record<string, string> = {};
  if (reg.auth) headers['authorization'] = `Bearer ${reg.tokenServer.mint([{ type: 'repository', name: repository, actions: ['pull'] }])}`;
  const agent = new Agent({ connect: { ca: reg.ca.caCertPem } });
  try {
    const res = await request(`${reg.url}/v2/${repository}/blobs/${digest}`, { method: 'HEAD', headers, dispatcher: agent });
    await res.body.dump();
    const where = `${repository}@${digest}`;
    if (reg.redirectBlobs) {
      const location = String(res.headers['location'] ?? '');
      const base = reg.cdnLink ? `https://${reg.cdnLink.host}:${reg.cdnLink.port}` : reg.cdn.url;
      const expected = `${base}/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;
      if (res.statusCode !== 307 || location !== expected) {
        throw new Error(`registry did not redirect ${where} to the CDN: ${res.statusCode} ${location}`);
      }
    } else if (res.statusCode !== 200 || Number(res.headers['content-length']) !== size) {
      throw new Error(`registry did not serve ${where}: ${res.statusCode} content-length ${String(res.headers['content-length'])}`);
    }
  } finally {
    await agent.close();
  }
}
