// The admin's "test" action: try an upstream's settings step by step (name resolution, connection and TLS, the
// token dance, a manifest HEAD) and say what each step found, so a wrong URL, CA or password is named precisely.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { request } from 'undici';
import { fullManifestAccept } from '../registry/media-types.js';
import { isTag } from '../registry/names.js';
import { bearerChallenge, parseChallenges } from './challenge.js';
import { upstreamRepository } from './router.js';
import type { Upstream } from './upstream.js';

export interface TestStep {
  step: 'resolve' | 'connect' | 'token' | 'manifest';
  ok: boolean;
  detail: string;
  ms: number;
}

const reason = (err: unknown): string => {
  const e = err as { message?: string; cause?: { code?: string; message?: string }; code?: string };
  const cause = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return cause && !message.includes(cause) ? `${cause}: ${message}` : message;
};

async function timed(step: TestStep['step'], work: () => Promise<{ ok: boolean; detail: string }>): Promise<TestStep> {
  const started = performance.now();
  try {
    const r = await work();
    return { step, ...r, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { step, ok: false, detail: reason(err), ms: Math.round(performance.now() - started) };
  }
}

/** Runs the steps in order and stops at the first failure. `image` is `repository:tag` (default tag `latest`). */
export async function testUpstream(upstream: Upstream, image: string | undefined, signal?: AbortSignal): Promise<{ ok: boolean; steps: TestStep[] }> {
  const steps: TestStep[] = [];
  const run = async (step: TestStep['step'], work: () => Promise<{ ok: boolean; detail: string }>): Promise<boolean> => {
    const result = await timed(step, work);
    steps.push(result);
    return result.ok;
  };
  const url = upstream.config.url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const done = () => ({ ok: steps.every((s) => s.ok), steps });

  const resolved = await run('resolve', async () => {
    if (upstream.config.proxy) return { ok: true, detail: `through proxy ${new URL(upstream.config.proxy).host} (the proxy resolves ${host})` };
    if (isIP(host)) return { ok: true, detail: `${host} is an address` };
    const addresses = await lookup(host, { all: true });
    return { ok: addresses.length > 0, detail: addresses.map((a) => a.address).join(', ') || 'no address' };
  });
  if (!resolved) return done();

  let challenged = false;
  const connected = await run('connect', async () => {
    const res = await request(upstream.urlFor('/v2/'), { dispatcher: upstream.dispatcher, method: 'GET', headers: { 'user-agent': 'pullgate' }, signal: signal ?? null });
    await res.body.dump();
    const challenge = bearerChallenge(parseChallenges(res.headers['www-authenticate']));
    challenged = res.statusCode === 401;
    const tls = url.protocol === 'https:' ? 'TLS verified, ' : '';
    if (res.statusCode === 200) return { ok: true, detail: `${tls}GET /v2/ answered 200` };
    if (res.statusCode === 401) {
      // The realm passes the mirror's checks (plain http, the private-address guard) before anything is sent to it.
      if (challenge?.params.realm) await upstream.realmTarget(challenge.params.realm, upstream.urlFor('/v2/'));
      const how = challenge?.params.realm ? `token realm ${new URL(challenge.params.realm).host}` : 'basic authentication';
      return { ok: true, detail: `${tls}GET /v2/ answered 401 (${how})` };
    }
    return { ok: false, detail: `GET /v2/ answered ${res.statusCode}: this does not look like a registry API` };
  });
  if (!connected) return done();

  const tokenOk = await run('token', async () => {
    if (!challenged) return { ok: true, detail: 'the registry asks for no authentication' };
    if (upstream.mode === 'passthrough') return { ok: true, detail: "passthrough mode: clients bring their own credentials; nothing to try" };
    const res = await upstream.fetch({ method: 'GET', path: '/v2/', ...(signal ? { signal } : {}) });
    await res.body.dump();
    if (res.status === 200) return { ok: true, detail: upstream.config.auth.username ? `signed in as ${upstream.config.auth.username}` : 'anonymous token accepted' };
    return { ok: false, detail: `GET /v2/ with a token answered ${res.status}${res.status === 401 ? ': wrong username or password?' : ''}` };
  });
  if (!tokenOk || !image) return done();

  await run('manifest', async () => {
    const colon = image.lastIndexOf(':');
    const hasTag = colon > image.lastIndexOf('/');
    const tag = hasTag ? image.slice(colon + 1) : 'latest';
    const name = hasTag ? image.slice(0, colon) : image;
    if (!isTag(tag)) return { ok: false, detail: `not a tag: ${tag}` };
    const repository = upstreamRepository(upstream, name);
    const res = await upstream.fetch({
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${tag}`,
      headers: { accept: fullManifestAccept },
      repository,
      ...(signal ? { signal } : {}),
    });
    await res.body.dump();
    if (res.status === 200) {
      const digest = res.headers['docker-content-digest'];
      return { ok: true, detail: `${repository}:${tag} is ${String(digest ?? 'present')} (${String(res.headers['content-type'] ?? 'no type')})` };
    }
    return { ok: false, detail: `HEAD ${repository}:${tag} answered ${res.status}` };
  });
  return done();
}
