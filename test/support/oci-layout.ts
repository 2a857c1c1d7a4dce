// Writes an OCI image layout (image-spec v1.1 image-layout.md) without Docker: gzip layers hashed while they
// stream, configs, manifests, indexes, `index.json` and `oci-layout`, for `skopeo copy oci:DIR:REF ...`.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tarArchive, type TarEntry } from './tar-writer.js';

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface ImageSpec {
  platform: Platform;
  /** Each layer is a list of tar entries. */
  layers: TarEntry[][];
  cmd?: string[];
}

/** A pass-through stream that hashes and counts what flows through it. */
export class HashTap extends Transform {
  readonly hash: Hash = createHash('sha256');
  size = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.push(chunk);
    callback();
  }
}

const refNameAnnotation = 'org.opencontainers.image.ref.name';

export class OciLayoutWriter {
  private readonly refs: Descriptor[] = [];

  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<OciLayoutWriter> {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    return new OciLayoutWriter(dir);
  }

  async writeBlob(data: Buffer | string, mediaType: string): Promise<Descriptor> {
    const bytes = Buffer.from(data);
    const hex = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(this.dir, 'blobs', 'sha256', hex), bytes);
    return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
  }

  /** Streams tar -> gzip -> file, hashing the tar (diff ID) and the gzip (digest) on the way. */
  async writeLayer(entries: TarEntry[]): Promise<{ descriptor: Descriptor; diffId: string }> {
    const tmp = join(this.dir, 'blobs', `.layer-${randomUUID()}`);
    const tarTap = new HashTap();
    const gzipTap = new HashTap();
    await pipeline(Readable.from(tarArchive(entries)), tarTap, createGzip({ level: 6 }), gzipTap, createWriteStream(tmp));
    const hex = gzipTap.hash.digest('hex');
    await rename(tmp, join(this.dir, 'blobs', 'sha256', hex));
    return {
      descriptor: { mediaType: mediaTypes.ociLayerGzip, digest: `sha256:${hex}`, size: gzipTap.size },
      diffId: `sha256:${tarTap.hash.digest('hex')}`,
    };
  }

  /** Layers, config and manifest of one image; returns the manifest descriptor with its platform. */
  async writeImage(spec: ImageSpec): Promise<Descriptor> {
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (const entries of spec.layers) {
      const { descriptor, diffId } = await this.writeLayer(entries);
      layers.push(descriptor);
      diffIds.push(diffId);
    }
    const created = '2024-01-01T00:00:00Z';
    const config = {
      created,
      architecture: spec.platform.architecture,
      os: spec.platform.os,
      ...(spec.platform.variant === undefined ? {} : { variant: spec.platform.variant }),
      config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: spec.cmd ?? ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created, created_by: 'pullgate test fixture' })),
    };
    const configDescriptor = await this.writeBlob(JSON.stringify(config), mediaTypes.ociConfig);
    const manifest = { schemaVersion: 2, mediaType: mediaTypes.ociManifest, config: configDescriptor, layers };
    const descriptor = await this.writeBlob(JSON.stringify(manifest), mediaTypes.ociManifest);
    return { ...descriptor, platform: spec.platform };
  }

  async writeIndex(manifests: Descriptor[]): Promise<Descriptor> {
    const index = { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests };
    return this.writeBlob(JSON.stringify(index), mediaTypes.ociIndex);
  }

  /** Names a manifest or index in `index.json`, so `oci:DIR:ref` finds it. */
  tag(ref: string, descriptor: Descriptor): void {
    const { platform: _platform, ...plain } = descriptor;
    this.refs.push({ ...plain, annotations: { [refNameAnnotation]: ref } });
  }

  async finish(): Promise<void> {
    await writeFile(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: this.refs }));
  }
}
