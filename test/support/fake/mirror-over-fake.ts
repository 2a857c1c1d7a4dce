// A mirror in front of a FakeUpstream: the usual integration-test setup, with helpers to count what reached it.
import { request, type Dispatcher } from 'undici';
import { FakeUpstream, type FakeUpstreamOptions } from './fake-upstream.js';
import { startMirror, type TestMirror } from '../mirror-app.js';

export interface Setup {
  up: FakeUpstream;
  mirror: TestMirror;
  close(): Promise<void>;
}

/** Upstream entries point at the fake: hub (default, Docker Hub rules), gcr (host + prefix), pass (passthrough). */
export async function mirrorOverFake(options: FakeUpstreamOptions = {}, upstreamExtra: Record<string, unknown> = {}): Promise<Setup> {
  const up = await new FakeUpstream(options).start();
  const mirror = await startMirror({
    upstreams: [
      { name: 'hub', registry: 'docker.io', url: up.url, default: true, ...upstreamExtra },
      { name: 'gcr', registry: 'gcr.io', url: up.url, hosts: ['gcr.mirror.test'], ...upstreamExtra },
      { name: 'pass', registry: 'pass.example.test', url: up.url, hosts: ['pass.mirror.test'], auth: { mode: 'passthrough' } },
    ],
  });
  return {
    up,
    mirror,
    async close() {
      await mirror.close();
      await up.stop();
    },
  };
}

export interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export async function get(base: string, path: string, options: { method?: Dispatcher.HttpMethod; headers?: Record<string, string> } = {}): Promise<Fetched> {
  const res = await request(base + path, { method: options.method ?? 'GET', headers: options.headers ?? {} });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

export function errorCode(f: Fetched): string | undefined {
  return (JSON.parse(f.body.toString('utf8')) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
}
