// The upstream form's signature policy section in a real browser (chromium) at desktop and phone sizes
// (docs/signatures.md): a requirement added in the form, a bad key named by the server under the section, the
// policy enforced from the next pull, and an edit that keeps the key (shown by fingerprint) and switches to audit.
// The upstream is an in-process fake registry with an image signed in cosign's tag scheme (node:crypto).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import { loadPublicKey } from '../../src/signature/requirement.js';
import { buildWeb } from '../../web/build.js';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, testKey, type TestKey } from '../support/sigstore-fixtures.js';

const password = 'admin-password-for-tests';
const slow = { timeout: 120_000 };

async function logIn(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('page-dashboard').waitFor();
}

describe('signature policy in the upstream form', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let browser: Browser;
  let webDir: string;
  let key: TestKey;
  const pull = async (tag: string) => (await get(mirror.url, `/v2/signed.test/team/app/manifests/${tag}`, { headers: { accept: fullManifestAccept } })).status;

  before(async () => {
    await assertChromium();
    webDir = await mkdtemp(join(tmpdir(), 'pullgate-signatures-web-'));
    await buildWeb(webDir);
    hub = await new FakeUpstream().start();
    key = testKey('p256');
    const signed = hub.addImage('team/app', '1.0', [randomBytes(3000)]);
    const sig = cosignSignatureManifest([keyedCosignLayer(key, signed.digest)]);
    for (const bytes of sig.blobs.values()) hub.addBlob(bytes);
    hub.putManifest('team/app', cosignSignatureTag(signed.digest), 'application/vnd.oci.image.manifest.v1+json', sig.manifest);
    hub.addImage('team/app', 'nightly', [randomBytes(2000)]);
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password, webDir });
    browser = await launchBrowser();
  }, slow);

  after(async () => {
    await browser?.close();
    await mirror?.close();
    await hub?.stop();
    if (webDir) await rm(webDir, { recursive: true, force: true });
  });

  test('desktop: a requirement added in the form, a bad key named by the server, then enforced; an edit keeps the key and switches to audit', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 1280, height: 800 } });
    try {
      await logIn(page);
      await page.goto('/#/upstreams/new');
      await page.getByTestId('page-upstream-form').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('signed');
      await page.getByLabel('Registry name').fill('signed.test');
      await page.getByLabel('URL', { exact: true }).fill(hub.url);
      await page.getByTestId('signature-add-requirement').click();
      await page.getByLabel('Repositories that must be signed').fill('team/*');
      await page.getByLabel('Public keys (PEM)').fill('-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----');
      await page.getByTestId('signature-add-identity-0').click();
      await page.getByLabel('Issuer', { exact: true }).fill('https://token.actions.githubusercontent.com');
      await page.getByLabel('Subject', { exact: true }).fill('https://github\\.com/example/.+');
      await page.getByLabel('Subject is a regular expression').check();
      const answer = page.waitForResponse((r) => r.url().endsWith('/api/upstreams') && r.request().method() === 'POST');
      await page.getByTestId('upstream-save').click();
      const refusal = await answer;
      assert.equal(refusal.status(), 400);
      assert.deepEqual(((await refusal.json()) as { fields: { path: string }[] }).fields.map((f) => f.path), ['signatures.require.0.keys.0']);
      const error = page.getByTestId('error-upstream-signatures');
      assert.match(await error.innerText(), /requirement 1, key 1: /);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'upstream-signatures');
      assert.equal(await page.getByTestId('form-error').count(), 0);
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'desktop-upstream-form-signatures-error');

      await page.getByLabel('Public keys (PEM)').fill(key.publicPem);
      await page.getByTestId('upstream-save').click();
      const policy = page.getByTestId('upstream-signatures-signed');
      await policy.waitFor();
      assert.match(await policy.innerText(), /signatures enforced/);
      assert.deepEqual([await pull('1.0'), await pull('nightly')], [200, 403]);

      // The edit starts from what is saved: the key by fingerprint, the identity as a regular expression.
      await page.getByTestId('upstream-edit-signed').click();
      await page.getByTestId('page-upstream-form').waitFor();
      const requirement = page.getByTestId('signature-requirement-0');
      assert.match(await requirement.innerText(), new RegExp(`key ${loadPublicKey(key.publicPem).id.slice(0, 15)}`));
      assert.equal(await page.getByLabel('Public keys (PEM)').inputValue(), '');
      assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), 'https://github\\.com/example/.+');
      assert.equal(await page.getByLabel('Subject is a regular expression').isChecked(), true);
      await page.getByLabel('Signature mode').selectOption('audit');
      await screenshot(page, 'desktop-upstream-form-signatures-edit');
      await page.getByTestId('upstream-save').click();
      await page.getByTestId('upstream-row-signed').waitFor();
      assert.match(await page.getByTestId('upstream-signatures-signed').innerText(), /signatures audited/);
      assert.deepEqual([await pull('1.0'), await pull('nightly')], [200, 200]);
      const saved = (await (await page.request.get('/api/upstreams')).json()) as { upstreams: { name: string; signatures?: { require: { keys: string[]; mode: string }[] } }[] };
      assert.deepEqual(saved.upstreams.find((u) => u.name === 'signed')?.signatures?.require.map((r) => [r.keys, r.mode]), [[[loadPublicKey(key.publicPem).id], 'audit']]);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('phone: the signature policy section fits the screen', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 390, height: 844 } });
    try {
      await logIn(page);
      await page.goto('/#/upstreams');
      await page.getByTestId('upstream-edit-signed').click();
      await page.getByTestId('page-upstream-form').waitFor();
      await page.getByTestId('signature-add-identity-0').click();
      await page.getByTestId('upstream-signatures').scrollIntoViewIfNeeded();
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'phone-upstream-form-signatures');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
