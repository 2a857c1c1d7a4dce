// A mirror in front of a FakeUpstream: the usual integration-test setup, with helpers to count what reached it.
import { request, type Dispatcher } from 'undici';
import { FakeUpstream, type FakeUpstreamOptions } from './fake-upstream.js';
import { startMirror, type TestMirror } from '../mirror-app.js';
import { httpsListener, registryClient, type Fetched, type Protocol, type RegistryClient } from '../registry-client.js';

export type { Fetched } from '../registry-client.js';

export interface Setup {
  up: FakeUpstream;
  mirror: TestMirror;
  /** A client of the mirror over `protocol`, closed with the setup. */
  client(protocol: Protocol): Promise<RegistryClient>;
  close(): Promise<void>;
}

/** Upstream entries point at the fake: hub (default, Docker Hub rules), gcr (host + prefix), pass (passthrough). */
export async function mirrorOverFake(options: FakeUpstreamOptions = {}, upstreamExtra: Record<string, unknown> = {}): Promise<Setup> {
  const up = await new FakeUpstream(options).start();
  const mirror = await startMirror({
    ...(await httpsListener()),
    upstreams: [
      { name: 'hub', registry: 'docker.io', url: up.url, default: true, ...upstreamExtra },
      { name: 'gcr', registry: 'gcr.io', url: up.url, hosts: ['gcr.mirror.test'], ...upstreamExtra },
      { name: 'pass', registry: 'pass.example.test', url: up.url, hosts: ['pass.mirror.test'], auth: { mode: 'passthrough' } },
    ],
  });
  const clients: RegistryClient[] = [];
  return {
    up,
    mirror,
    async client(protocol) {
      const c = await registryClient(protocol, mirror);
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await mirror.close();
      await up.stop();
    },
  };
}

/** A request to the mirror: by URL over HTTP/1.1, or through a client of any protocol. */
export async function get(base: string | RegistryClient, path: string, options: { method?: Dispatcher.HttpMethod; headers?: Record<string, string> } = {}): Promise<Fetched> {
  if (typeof base !== 'string') return base.fetch(path, options);
  const res = await request(base + path, { method: options.method ?? 'GET', headers: options.headers ?? {} });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

export function errorCode(f: Fetched): string | undefined {
  return (JSON.parse(f.body.toString('utf8')) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
}
