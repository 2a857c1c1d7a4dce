// Test images built without Docker and pushed with real skopeo into a RealRegistry, then read back so that
// tests know every digest exactly as the upstream serves it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OciLayoutWriter, type Descriptor, type Platform } from './oci-layout.js';
import type { RealRegistry } from './real-registry.js';
import { inspectRaw, skopeo, type Credentials } from './skopeo.js';
import type { TarEntry } from './tar-writer.js';

export { writeLargeBlob } from './large-blob.js';

export interface FixtureManifest extends Descriptor {
  raw: Buffer;
  config: Descriptor;
  layers: Descriptor[];
}

export interface FixtureImage {
  repository: string;
  tag: string;
  /** `HOST:PORT/repository:tag` */
  reference: string;
  requiresAuth: boolean;
  /** Digest, media type and size of what the tag points at upstream (manifest or index). */
  digest: string;
  mediaType: string;
  size: number;
  raw: Buffer;
  /** Index children keyed by `os/architecture`; empty for a single-platform image. */
  children: Record<string, FixtureManifest>;
  /** Every layer of the image (of all children for an index). */
  layers: Descriptor[];
}

export interface Fixtures {
  /** library/alpine:3.20, Docker schema2 manifest, one ~1.5 MB layer. */
  alpine: FixtureImage;
  /** library/multi:latest, OCI index of linux/amd64 and linux/arm64/v8. */
  multi: FixtureImage;
  /** library/multi:v2s2, the same platforms as a Docker manifest list. */
  multiDocker: FixtureImage;
  /** team/app:1.0, OCI manifest with two layers. */
  app: FixtureImage;
  /** private/secret:1.0, readable only with credentials. */
  secret: FixtureImage;
  all: FixtureImage[];
}

type FixtureName = Exclude<keyof Fixtures, 'all'>;

interface FixtureSpec {
  repository: string;
  tag: string;
  format: 'oci' | 'v2s2';
  images: { platform: Platform; layers: TarEntry[][] }[];
}

/** A small root filesystem whose payload is `size` keystream bytes seeded by `seed`. */
function rootfs(seed: string, size: number): TarEntry[] {
  return [
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/os-release', content: Buffer.from(`NAME="Pullgate fixture"\nID=${seed}\n`) },
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/payload', mode: 0o755, size, seed: `${seed}/payload` },
    { type: 'dir', path: 'usr' },
    { type: 'dir', path: 'usr/share' },
    { type: 'file', path: 'usr/share/README', content: Buffer.from(`fixture ${seed}\n`) },
  ];
}

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const KiB = 1024;

const specs: Record<FixtureName, FixtureSpec> = {
  alpine: { repository: 'library/alpine', tag: '3.20', format: 'v2s2', images: [{ platform: amd64, layers: [rootfs('alpine', 1536 * KiB)] }] },
  multi: {
    repository: 'library/multi',
    tag: 'latest',
    format: 'oci',
    images: [
      { platform: amd64, layers: [rootfs('multi-amd64', 512 * KiB)] },
      { platform: arm64, layers: [rootfs('multi-arm64', 512 * KiB)] },
    ],
  },
  multiDocker: {
    repository: 'library/multi',
    tag: 'v2s2',
    format: 'v2s2',
    images: [
      { platform: amd64, layers: [rootfs('multi-docker-amd64', 256 * KiB)] },
      { platform: arm64, layers: [rootfs('multi-docker-arm64', 256 * KiB)] },
    ],
  },
  app: {
    repository: 'team/app',
    tag: '1.0',
    format: 'oci',
    images: [{
      platform: amd64,
      layers: [
        rootfs('app-base', 768 * KiB),
        [{ type: 'dir', path: 'app' }, { type: 'file', path: 'app/main.bin', mode: 0o755, size: 256 * KiB, seed: 'app-main' }],
      ],
    }],
  },
  secret: { repository: 'private/secret', tag: '1.0', format: 'oci', images: [{ platform: amd64, layers: [rootfs('secret', 128 * KiB)] }] },
};

const platformKey = (p: Platform): string => `${p.os}/${p.architecture}`;

/** Writes every fixture into one OCI layout; each is named `<fixture name>` in its index.json. */
export async function buildFixtureLayout(dir: string): Promise<string> {
  const layout = await OciLayoutWriter.create(dir);
  for (const [name, spec] of Object.entries(specs)) {
    const manifests: Descriptor[] = [];
    for (const image of spec.images) manifests.push(await layout.writeImage(image));
    const [only] = manifests;
    layout.tag(name, manifests.length === 1 && only !== undefined ? only : await layout.writeIndex(manifests));
  }
  await layout.finish();
  return dir;
}

interface ParsedManifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

async function readBack(reg: RealRegistry, spec: FixtureSpec, credentials: Credentials | undefined): Promise<FixtureImage> {
  const at = (ref: string): string => `${reg.host}/${spec.repository}${ref}`;
  const read = (ref: string): ReturnType<typeof inspectRaw> => inspectRaw(at(ref), { certDir: reg.ca.certDir, credentials });
  const top = await read(`:${spec.tag}`);
  const parsed = JSON.parse(top.raw.toString('utf8')) as ParsedManifest;
  const children: Record<string, FixtureManifest> = {};
  const layers: Descriptor[] = [];
  const childDescriptors = parsed.manifests ?? [];
  for (const child of childDescriptors) {
    const { raw } = await read(`@${child.digest}`);
    const manifest = JSON.parse(raw.toString('utf8')) as ParsedManifest;
    if (child.platform === undefined || manifest.config === undefined) throw new Error(`unexpected child of ${at(':' + spec.tag)}`);
    children[platformKey(child.platform)] = { ...child, raw, config: manifest.config, layers: manifest.layers ?? [] };
    layers.push(...(manifest.layers ?? []));
  }
  if (childDescriptors.length === 0) layers.push(...(parsed.layers ?? []));
  if (parsed.mediaType === undefined) throw new Error(`manifest of ${at(':' + spec.tag)} has no mediaType`);
  return {
    repository: spec.repository,
    tag: spec.tag,
    reference: at(`:${spec.tag}`),
    requiresAuth: spec.repository.startsWith('private/'),
    digest: top.digest,
    mediaType: parsed.mediaType,
    size: top.raw.length,
    raw: top.raw,
    children,
    layers,
  };
}

/** Builds the fixture layout under the registry's dir, pushes every fixture, and reads the digests back. */
export async function pushFixtures(reg: RealRegistry): Promise<Fixtures> {
  const credentials = reg.credentials;
  if (reg.auth && credentials === undefined) throw new Error('pushing fixtures needs at least one user');
  const layoutDir = await buildFixtureLayout(join(reg.dir, 'fixture-layout'));
  const names = Object.keys(specs) as FixtureName[];
  const creds = credentials === undefined ? ['--dest-no-creds'] : ['--dest-creds', `${credentials.user}:${credentials.password}`];
  // Two at a time: skopeo is the bottleneck on a 2-core machine, and all five in parallel gain nothing.
  for (let i = 0; i < names.length; i += 2) {
    await Promise.all(names.slice(i, i + 2).map((name) => {
      const spec = specs[name];
      const format = spec.format === 'v2s2' ? ['--format', 'v2s2'] : [];
      return skopeo(['copy', '--quiet', '--all', ...format, '--dest-cert-dir', reg.ca.certDir, ...creds,
        `oci:${layoutDir}:${name}`, `docker://${reg.host}/${spec.repository}:${spec.tag}`]);
    }));
  }
  const images = await Promise.all(names.map((name) => readBack(reg, specs[name], credentials)));
  const byName = Object.fromEntries(names.map((name, i) => [name, images[i]])) as Record<FixtureName, FixtureImage>;
  return { ...byName, all: images };
}

/**
 * One single-platform image (linux/amd64, OCI manifest) whose one layer holds `payloadBytes` of keystream, pushed
 * as `repository:tag`: a large layer for clients that unpack what they pull. Its layout is removed after the push.
 */
export async function pushLargeImage(reg: RealRegistry, o: { repository: string; tag: string; payloadBytes: number }): Promise<FixtureImage> {
  const credentials = reg.credentials;
  if (reg.auth && credentials === undefined) throw new Error('pushing an image needs at least one user');
  const spec: FixtureSpec = {
    repository: o.repository,
    tag: o.tag,
    format: 'oci',
    images: [{ platform: amd64, layers: [rootfs(`large-${o.repository}-${o.tag}`, o.payloadBytes)] }],
  };
  const layoutDir = join(reg.dir, `large-layout-${o.repository.replace(/\//g, '-')}-${o.tag}`);
  try {
    const layout = await OciLayoutWriter.create(layoutDir);
    const [image] = spec.images;
    if (image === undefined) throw new Error('no image in the spec');
    layout.tag('large', await layout.writeImage(image));
    await layout.finish();
    const creds = credentials === undefined ? ['--dest-no-creds'] : ['--dest-creds', `${credentials.user}:${credentials.password}`];
    await skopeo(['copy', '--quiet', '--dest-cert-dir', reg.ca.certDir, ...creds, `oci:${layoutDir}:large`, `docker://${reg.host}/${o.repository}:${o.tag}`], {
      timeoutMs: 300_000,
    });
  } finally {
    await rm(layoutDir, { recursive: true, force: true });
  }
  return readBack(reg, spec, credentials);
}

/** The config digest of a single-platform image or of one child of an index: Docker's image id. */
export function configDigest(image: FixtureImage, platform?: string): string {
  if (platform !== undefined) {
    const child = image.children[platform];
    if (child === undefined) throw new Error(`${image.reference} has no ${platform} child`);
    return child.config.digest;
  }
  const manifest = JSON.parse(image.raw.toString('utf8')) as { config?: { digest?: string } };
  if (manifest.config?.digest === undefined) throw new Error(`${image.reference} is not a single-platform manifest`);
  return manifest.config.digest;
}
