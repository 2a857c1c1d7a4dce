// Upstream sources through the admin API: validation errors name the field, credentials never come back, and
// changes apply to the very next registry request. Upstreams are in-process fake registries (test/support/fake);
// the real-client variant of live apply is test/e2e/admin-live-upstream.test.ts.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { AdminClient } from '../support/admin-client.js';
import { adminApiMirrorForSuite, otherUpstream, upstreamSecret } from '../support/admin-api-mirror.js';
import type { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import type { TestMirror } from '../support/mirror-app.js';
import { initialState, toInput } from '../../web/src/pages/upstream-form-model.js';
import type { UpstreamView } from '../../web/src/types.js';
import { upstreamInput } from '../../src/admin/api-schemas.js';

describe('admin API', () => {
  let hub: FakeUpstream;
  let other: FakeUpstream;
  let mirror: TestMirror;
  let admin: AdminClient;

  adminApiMirrorForSuite((m) => ({ hub, other, mirror, admin } = m));

  describe('upstream sources', () => {
    const live = () => otherUpstream(other);

    test('the config file upstream is listed read-only, with its health', async () => {
      const res = await admin.call<{ upstreams: Array<Record<string, unknown>> }>('GET', '/api/upstreams');
      assert.equal(res.status, 200);
      const hubView = res.body.upstreams.find((u) => u.name === 'hub');
      assert.equal(hubView?.source, 'config');
      assert.equal(hubView?.enabled, true);
      assert.deepEqual(Object.keys(hubView?.health as object).sort(), ['circuit', 'lastError', 'lastOkAt', 'rateLimit', 'reachable', 'urls']);
      // One URL (no mirrors configured): the origin, its circuit closed.
      assert.deepEqual((hubView?.health as { urls: unknown }).urls, [{ url: hub.url, role: 'origin', circuit: 'closed', failures: 0 }]);
      const edit = await admin.call('PUT', '/api/upstreams/hub', { name: 'hub', registry: 'docker.io', url: hub.url });
      assert.equal(edit.status, 409);
      assert.equal((edit.body as { error: string }).error, 'READ_ONLY');
      assert.equal((await admin.call('DELETE', '/api/upstreams/hub')).status, 409);
    });

    test('validation errors name the field', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...live(), url: 'ftp://nope' }, 'url'],
        [{ ...live(), name: 'Bad Name' }, 'name'],
        [{ ...live(), hosts: ['not a host'] }, 'hosts.0'],
        [{ ...live(), auth: { mode: 'mirror', password: 'x' } }, 'auth.username'],
        [{ ...live(), registry: 'docker.io' }, 'registry'],
        [{ ...live(), default: true }, ''],
        [{ ...live(), caPem: 'not pem' }, 'caPem'],
        [{ ...live(), tagTtl: 'soon' }, 'tagTtl'],
        [{ ...live(), surprise: 1 }, ''],
      ];
      for (const [body, field] of cases) {
        const res = await admin.call<{ error: string; fields?: Array<{ path: string; message: string }> }>('POST', '/api/upstreams', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.text}`);
        assert.equal(res.body.error, 'VALIDATION');
        assert.ok(res.body.fields?.some((f) => f.path === field), `${field} in ${res.text}`);
      }
      assert.equal((await admin.call<{ upstreams: unknown[] }>('GET', '/api/upstreams')).body.upstreams.length, 1, 'nothing was saved');
    });

    test('a signature policy with wrong fields is refused naming each field (the config file\'s schema), and nothing is saved', async () => {
      const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const cases: Array<[unknown, string, RegExp]> = [
        [{ require: [{ repositories: ['Team/*'], keys: [pem] }] }, 'signatures.require.0.repositories.0', /repository glob/],
        [{ require: [{ repositories: ['team/*'], keys: [pem], mode: 'block' }] }, 'signatures.require.0.mode', /enforce|audit/],
        [{ require: [{ repositories: ['team/*'], keys: [pem], threshold: 0 }] }, 'signatures.require.0.threshold', /./],
        [{ require: [{ repositories: ['team/*'] }] }, 'signatures.require.0', /keys or identities/],
        [{ require: [{ repositories: ['team/*'], identities: [{ issuer: 'https://issuer.test', subjectRegExp: '(' }] }] }, 'signatures.require.0.identities.0.subjectRegExp', /regular expression/],
        [{ require: [{ repositories: ['team/*'], keys: [pem, '/etc/passwd'] }] }, 'signatures.require.0.keys.1', /PEM/],
        [{ require: [{ repositories: ['team/*'], keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'] }] }, 'signatures.require.0.keys.0', /./],
        [{ require: [{ repositories: ['team/*'], keys: [`sha256:${'a'.repeat(64)}`] }] }, 'signatures.require.0.keys.0', /fingerprint/],
        [{ trustedRoot: '/etc/pullgate/root.json', require: [{ repositories: ['team/*'], keys: [pem] }] }, 'signatures.trustedRoot', /config file/],
        [{ require: [] }, 'signatures.require', /./],
      ];
      for (const [signatures, path, message] of cases) {
        const res = await admin.call<{ error: string; fields?: Array<{ path: string; message: string }> }>('POST', '/api/upstreams', { ...live(), signatures });
        assert.equal(res.status, 400, `${JSON.stringify(signatures)} -> ${res.text}`);
        assert.equal(res.body.error, 'VALIDATION');
        const field = res.body.fields?.find((f) => f.path === path);
        assert.match(field?.message ?? '', message, `${path} in ${res.text}`);
      }
      assert.equal((await admin.call<{ upstreams: unknown[] }>('GET', '/api/upstreams')).body.upstreams.length, 1, 'nothing was saved');
    });

    test('an added upstream is routed by the very next request; its password is never returned nor stored in clear', async () => {
      const before = await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(before.status, 404, 'not routed before it is added');

      const created = await admin.call<Record<string, unknown>>('POST', '/api/upstreams', live());
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.source, 'admin');
      assert.deepEqual(created.body.auth, { mode: 'mirror', username: 'robot', hasPassword: true });
      assert.ok(!created.text.includes(upstreamSecret));
      assert.ok(!(await admin.call('GET', '/api/upstreams')).text.includes(upstreamSecret));

      const pulled = await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(pulled.status, 200, pulled.body.toString());
      assert.ok(other.count((r) => r.path === '/v2/private/app/manifests/1.0') > 0, 'the added upstream was asked');

      const db = await readFile(join(mirror.dataDir, 'pullgate.db'));
      const wal = await readFile(join(mirror.dataDir, 'pullgate.db-wal')).catch(() => Buffer.alloc(0));
      assert.ok(!db.includes(upstreamSecret) && !wal.includes(upstreamSecret), 'the password is stored sealed');
      assert.ok(!mirror.logs.some((l) => l.includes(upstreamSecret)), 'the password never reaches the log');
    });

    test('disable stops routing at once; enable brings it back; offline serves only the cache', async () => {
      const path = '/v2/private/app/manifests/1.0';
      const off = await admin.call<Record<string, unknown>>('PATCH', '/api/upstreams/other', { enabled: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.enabled, false);
      assert.equal((await get(mirror.url, path, { headers: { host: 'other.mirror.test' } })).status, 404);
      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { enabled: true })).status, 200);
      assert.equal((await get(mirror.url, path, { headers: { host: 'other.mirror.test' } })).status, 200);

      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { offline: true })).status, 200);
      const asked = other.count();
      const cached = await get(mirror.url, path, { headers: { host: 'other.mirror.test' } });
      assert.equal(cached.status, 200, 'a cached tag is served offline');
      const missing = await get(mirror.url, '/v2/private/app/manifests/2.0', { headers: { host: 'other.mirror.test' } });
      assert.equal(missing.status, 404);
      assert.equal(other.count(), asked, 'offline: the upstream is not contacted');
      assert.equal((await admin.call('PATCH', '/api/upstreams/other', { offline: false })).status, 200);
    });

    test('an edit applies live and keeps the stored password when it is left out', async () => {
      const edited = await admin.call<Record<string, unknown>>('PUT', '/api/upstreams/other', {
        ...live(),
        hosts: ['other2.mirror.test'],
        auth: { mode: 'mirror', username: 'robot' },
      });
      assert.equal(edited.status, 200, edited.text);
      assert.deepEqual(edited.body.hosts, ['other2.mirror.test']);
      assert.deepEqual(edited.body.auth, { mode: 'mirror', username: 'robot', hasPassword: true });
      assert.deepEqual(
        { allowPrivateRedirects: edited.body.allowPrivateRedirects, retries: edited.body.retries, circuit: edited.body.circuit },
        { allowPrivateRedirects: false, retries: { attempts: 3, minDelayMs: 200, maxDelayMs: 2000 }, circuit: { failures: 5, openForMs: 30_000 } },
        'the view carries every setting an edit sends back',
      );
      assert.equal((await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other.mirror.test' } })).status, 404);
      // A fresh tag needs the upstream, with the kept password.
      other.addImage('private/app', '1.1', [Buffer.alloc(100, 4)]);
      const res = await get(mirror.url, '/v2/private/app/manifests/1.1', { headers: { host: 'other2.mirror.test' } });
      assert.equal(res.status, 200, res.body.toString());
      const renamed = await admin.call('PUT', '/api/upstreams/other', { ...live(), name: 'renamed' });
      assert.equal(renamed.status, 400);
    });

    test('an edit saved by the upstream form changes the fields it shows and keeps every other stored setting', async () => {
      const created = await admin.call('POST', '/api/upstreams', {
        name: 'kept',
        registry: 'kept.example.test',
        url: other.url,
        hosts: ['kept.mirror.test'],
        segments: { connections: 4, maxConnections: 8, size: '16MiB', threshold: '64MiB', resumes: 7, stallTimeout: '20s' },
        quota: { reserve: 50 },
        directReads: false,
        watchWebhook: 'http://127.0.0.1:9/hook',
        watch: [
          { repository: 'library/node', tags: ['22*'], newest: 2, every: '6h', jitter: '90s', keep: 4 },
          { repository: 'library/alpine', cron: '0 6 * * 1-5', platforms: ['linux/amd64'] },
        ],
      });
      assert.equal(created.status, 201, created.text);
      const unshown = () => {
        const c = mirror.app.upstreams.router().named('kept')?.config;
        return { segments: c?.segments, quota: c?.quota, directReads: c?.directReads, watchWebhook: c?.watchWebhook, watch: c?.watch };
      };
      const before = unshown();
      assert.equal(before.segments?.connections, 4);
      assert.equal(before.directReads, false);
      assert.equal(before.watch?.length, 2);
      // What the form sends on Save (web/src/pages/use-upstream-form.ts): the view it was opened with, the URL edited.
      const list = await admin.call<{ upstreams: UpstreamView[] }>('GET', '/api/upstreams');
      const view = list.body.upstreams.find((u) => u.name === 'kept');
      const fixedUrl = other.url.replace('127.0.0.1', 'localhost');
      const input = toInput({ ...initialState(view), url: fixedUrl }, view);
      // Every setting the API takes goes back, but those the form leaves out when empty and the write-only webhook,
      // which an edit keeps when left out (a setting added to the API and not to the view and the form fails here).
      const leftOutWhenEmpty = ['caPem', 'proxy', 'access', 'policy', 'signatures', 'watchWebhook'];
      const notSent = Object.keys(upstreamInput.shape).filter((k) => !(k in input) && !leftOutWhenEmpty.includes(k));
      assert.deepEqual(notSent, [], 'every setting the API takes is sent back by the form');
      const saved = await admin.call('PUT', '/api/upstreams/kept', input);
      assert.equal(saved.status, 200, saved.text);
      assert.equal(mirror.app.upstreams.router().named('kept')?.config.url.href, new URL(fixedUrl).href);
      assert.deepEqual(unshown(), before, 'segments, quota, direct reads, webhook and watch entries are kept');
      assert.equal((await admin.call('DELETE', '/api/upstreams/kept')).status, 204);
    });

    test('a stored webhook is shown by its origin only; an edit without it keeps it, null removes it, a new one replaces it', async () => {
      const secretHook = 'https://hookuser:hunter2@hooks.example.test:8443/services/T000/B000/XXXXsecretpath?token=querysecret#frag';
      const body = { name: 'hooked', registry: 'hooked.example.test', url: other.url, hosts: ['hooked.mirror.test'] };
      const created = await admin.call('POST', '/api/upstreams', { ...body, watchWebhook: secretHook });
      assert.equal(created.status, 201, created.text);
      const stored = () => mirror.app.upstreams.router().named('hooked')?.config.watchWebhook;
      assert.equal(stored(), secretHook);
      const secrets = ['hookuser', 'hunter2', 'services', 'XXXXsecretpath', 'querysecret', 'frag'];
      const list = await admin.call('GET', '/api/upstreams');
      for (const text of [created.text, list.text]) {
        for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} is not in ${text}`);
      }
      const view = (list.body as { upstreams: UpstreamView[] }).upstreams.find((u) => u.name === 'hooked');
      assert.deepEqual(view?.watchWebhook, { origin: 'https://hooks.example.test:8443' });

      const kept = await admin.call('PUT', '/api/upstreams/hooked', { ...body, tagTtl: '10m' });
      assert.equal(kept.status, 200, kept.text);
      assert.equal(stored(), secretHook, 'an edit without the webhook keeps it');
      for (const secret of secrets) assert.ok(!kept.text.includes(secret), `${secret} is not in ${kept.text}`);

      const replaced = await admin.call('PUT', '/api/upstreams/hooked', { ...body, watchWebhook: 'http://127.0.0.1:9/other' });
      assert.equal(replaced.status, 200, replaced.text);
      assert.equal(stored(), 'http://127.0.0.1:9/other', 'a new webhook replaces it');

      const removed = await admin.call<UpstreamView>('PUT', '/api/upstreams/hooked', { ...body, watchWebhook: null });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(stored(), undefined, 'null removes it');
      assert.equal(removed.body.watchWebhook, undefined);
      const audit = await admin.call('GET', '/api/audit');
      assert.equal(audit.status, 200);
      assert.match(audit.text, /PUT \/api\/upstreams\/:name/, 'the edits are in the audit log');
      for (const secret of ['hookuser', 'hunter2', 'XXXXsecretpath', 'querysecret']) assert.ok(!audit.text.includes(secret), `${secret} is not in the audit log`);
      assert.equal((await admin.call('DELETE', '/api/upstreams/hooked')).status, 204);
    });

    test('the test action reports each step: unsaved settings, a saved upstream, and where a wrong one fails', async () => {
      type Result = { ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> };
      const trial = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: { ...live(), name: 'trial' }, image: 'private/app:1.0' });
      assert.equal(trial.status, 200, trial.text);
      assert.deepEqual(trial.body.steps.map((s) => [s.step, s.ok]), [['resolve', true], ['connect', true], ['token', true], ['manifest', true]]);
      assert.match(trial.body.steps[3]?.detail ?? '', /sha256:/);

      // What a test of a saved upstream learns is its health too: from its form (at its own URL) or from the list.
      type Health = { reachable: boolean | null; lastOkAt: number | null; lastError: { message: string } | null };
      const otherHealth = async (): Promise<Health | undefined> =>
        (await admin.call<{ upstreams: Array<{ name: string; health: Health }> }>('GET', '/api/upstreams')).body.upstreams.find((u) => u.name === 'other')?.health;
      const missing = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: live(), image: 'private/app:no-such-tag' });
      assert.equal(missing.body.ok, false, missing.text);
      const afterMissing = await otherHealth();
      assert.equal(afterMissing?.reachable, false);
      assert.equal(afterMissing?.lastError?.message, missing.body.steps.find((s) => !s.ok)?.detail);
      const saved = await admin.call<Result>('POST', '/api/upstreams/other/test', { image: 'private/app:1.0' });
      assert.equal(saved.body.ok, true, saved.text);
      assert.equal((await otherHealth())?.reachable, true);

      const wrongPassword = await admin.call<Result>('POST', '/api/upstreams/test', {
        upstream: { ...live(), name: 'trial', auth: { mode: 'mirror', username: 'robot', password: 'wrong' } },
        image: 'private/app:1.0',
      });
      assert.equal(wrongPassword.body.ok, false);
      assert.deepEqual(wrongPassword.body.steps.at(-1)?.step, 'token');

      const refused = await admin.call<Result>('POST', '/api/upstreams/test', { upstream: { ...live(), name: 'trial', url: 'http://127.0.0.1:1' } });
      assert.equal(refused.body.ok, false);
      assert.equal(refused.body.steps.at(-1)?.step, 'connect');
      assert.match(refused.body.steps.at(-1)?.detail ?? '', /ECONNREFUSED/);

      const invalid = await admin.call<{ fields: Array<{ path: string }> }>('POST', '/api/upstreams/test', { upstream: { ...live(), url: 'nope' } });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.body.fields.map((f) => f.path), ['upstream.url']);
    });

    test("an added upstream's quota reserve is the one the quota governor keeps, and an edit changes it at once", async () => {
      const input = { name: 'budgeted', registry: 'budgeted.example.test', url: other.url, hosts: ['budgeted.mirror.test'], quota: { reserve: 50 } };
      assert.equal((await admin.call('POST', '/api/upstreams', input)).status, 201);
      const reserveShown = async () => {
        const list = await admin.call<{ upstreams: Array<{ name: string; quota: { reserve: number } }> }>('GET', '/api/upstreams');
        return list.body.upstreams.find((u) => u.name === 'budgeted')?.quota;
      };
      assert.deepEqual(await reserveShown(), { reserve: 50, setting: { reserve: 50 }, heldBack: { watch: 0, live: 0 } });
      const governor = mirror.app.watch.governor;
      // 40 pulls left: above the default reserve of 20, below this upstream's 50.
      governor.observed('budgeted', { remaining: '40', at: Date.now() });
      assert.equal(governor.mayRunBackground('budgeted'), false, 'background work keeps the reserve of 50');
      assert.equal((await admin.call('PUT', '/api/upstreams/budgeted', { ...input, quota: { reserve: 10 } })).status, 200);
      assert.equal((await reserveShown())?.reserve, 10);
      assert.equal(governor.mayRunBackground('budgeted'), true, 'the edited reserve of 10 applies at once');
      assert.equal((await admin.call('DELETE', '/api/upstreams/budgeted')).status, 204);
    });

    test('delete removes the upstream from routing at once', async () => {
      assert.equal((await admin.call('DELETE', '/api/upstreams/other')).status, 204);
      assert.equal((await get(mirror.url, '/v2/private/app/manifests/1.0', { headers: { host: 'other2.mirror.test' } })).status, 404);
      assert.equal((await admin.call('DELETE', '/api/upstreams/other')).status, 404);
    });
  });
});
