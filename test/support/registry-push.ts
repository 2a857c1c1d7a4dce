// Pushes blobs and manifests to a real registry over its HTTP API (distribution's push protocol with the token
// dance), for artifacts skopeo cannot make from an image layout: cosign signature manifests, referrers, tags of
// the referrers tag schema.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import type { RealRegistry } from './real-registry.js';

export interface RegistryPusher {
  blob(repository: string, bytes: Buffer): Promise<string>;
  manifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string>;
  close(): Promise<void>;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function registryPusher(reg: RealRegistry): Promise<RegistryPusher> {
  const dispatcher = new Agent({ connect: { ca: await readFile(reg.caFile, 'utf8') } });
  const tokens = new Map<string, string>();
  const basic = reg.credentials ? `Basic ${Buffer.from(`${reg.credentials.user}:${reg.credentials.password}`).toString('base64')}` : undefined;

  async function token(challenge: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const url = new URL(params['realm'] ?? '');
    url.searchParams.set('service', params['service'] ?? '');
    if (params['scope']) url.searchParams.set('scope', params['scope']);
    const res = await request(url, { dispatcher, headers: basic ? { authorization: basic } : {} });
    const body = (await res.body.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token ?? '';
  }

  async function send(repository: string, method: 'POST' | 'PUT', url: string, body: Buffer | undefined, headers: Record<string, string>) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const auth = tokens.get(repository);
      const res = await request(url, { method, dispatcher, body: body ?? null, headers: { ...headers, ...(auth ? { authorization: `Bearer ${auth}` } : {}) } });
      if (res.statusCode === 401 && attempt === 0) {
        await res.body.dump();
        tokens.set(repository, await token(String(res.headers['www-authenticate'] ?? '')));
        continue;
      }
      return res;
    }
    throw new Error('unreachable');
  }

  return {
    async blob(repository, bytes) {
      const digest = sha256(bytes);
      const started = await send(repository, 'POST', `${reg.url}/v2/${repository}/blobs/uploads/`, undefined, {});
      await started.body.dump();
      if (started.statusCode !== 202) throw new Error(`upload start: ${started.statusCode}`);
      const location = new URL(String(started.headers['location']), reg.url);
      location.searchParams.set('digest', digest);
      const put = await send(repository, 'PUT', location.toString(), bytes, { 'content-type': 'application/octet-stream' });
      await put.body.dump();
      if (put.statusCode !== 201) throw new Error(`blob upload: ${put.statusCode}`);
      return digest;
    },
    async manifest(repository, reference, bytes, mediaType) {
      const res = await send(repository, 'PUT', `${reg.url}/v2/${repository}/manifests/${reference}`, bytes, { 'content-type': mediaType });
      const text = await res.body.text();
      if (res.statusCode !== 201) throw new Error(`manifest put ${reference}: ${res.statusCode} ${text}`);
      return sha256(bytes);
    },
    close: () => dispatcher.close(),
  };
}
