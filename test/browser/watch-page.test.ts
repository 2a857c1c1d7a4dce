// The Watch page, the cache explorer's signature column and the dashboard's held-back figures in a real browser
// (chromium) at desktop and phone sizes (docs/watch.md, docs/signatures.md). The mirror runs over an in-process fake
// registry with images signed in cosign's tag scheme (node:crypto) under an audit policy; the watch scheduler's
// timer never fires by itself, so every run in this test is one the UI asked for.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { fullManifestAccept } from '../../src/registry/media-types.js';
import type { Timer } from '../../src/watch/watch-scheduler.js';
import { buildWeb } from '../../web/build.js';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { FakeUpstream } from '../support/fake/fake-upstream.js';
import { get } from '../support/fake/mirror-over-fake.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { cosignSignatureManifest, cosignSignatureTag, keyedCosignLayer, testKey } from '../support/sigstore-fixtures.js';

const password = 'admin-password-for-tests';
const manualTimer: Timer = { set: () => undefined, clear: () => undefined };
const slow = { timeout: 120_000 };
const viewports = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

async function logIn(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('page-dashboard').waitFor();
}

describe('watch lists and signature verdicts in the admin UI', () => {
  let hub: FakeUpstream;
  let mirror: TestMirror;
  let browser: Browser;
  let webDir: string;
  let signedDigest: string;
  let unsignedDigest: string;

  before(async () => {
    await assertChromium();
    webDir = await mkdtemp(join(tmpdir(), 'pullgate-watch-web-'));
    await buildWeb(webDir);
    hub = await new FakeUpstream().start();
    const key = testKey('p256');
    const signed = hub.addImage('team/app', '1.0', [randomBytes(30_000), randomBytes(12_000)]);
    signedDigest = signed.digest;
    const sig = cosignSignatureManifest([keyedCosignLayer(key, signed.digest)]);
    for (const bytes of sig.blobs.values()) hub.addBlob(bytes);
    hub.putManifest('team/app', cosignSignatureTag(signed.digest), 'application/vnd.oci.image.manifest.v1+json', sig.manifest);
    unsignedDigest = hub.addImage('team/app', 'nightly', [randomBytes(8000)]).digest;
    hub.addImage('library/alpine', '3.20', [randomBytes(20_000)]);
    mirror = await startMirror(
      {
        listen: { admin: '127.0.0.1:0' },
        upstreams: [
          {
            name: 'hub',
            registry: 'docker.io',
            url: hub.url,
            default: true,
            quota: { reserve: 20 },
            signatures: { require: [{ repositories: ['team/*'], keys: [key.publicPem], mode: 'audit' }] },
            watch: [{ repository: 'library/alpine', tags: ['3.20'], every: '6h', jitter: '10m' }],
          },
        ],
      },
      { adminPassword: password, webDir, watchTimer: manualTimer },
    );
    for (const ref of ['1.0', 'nightly']) assert.equal((await get(mirror.url, `/v2/team/app/manifests/${ref}`, { headers: { accept: fullManifestAccept } })).status, 200);
    browser = await launchBrowser();
  }, slow);

  after(async () => {
    await browser?.close();
    await mirror?.close();
    await hub?.stop();
    if (webDir) await rm(webDir, { recursive: true, force: true });
  });

  test('the Watch page: a config entry read-only, a bad entry named field by field, an added entry run now with its tags', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 1280, height: 800 } });
    try {
      await logIn(page);
      await page.getByTestId('nav-watch').click();
      await page.getByTestId('page-watch').waitFor();
      const configCard = page.getByTestId('watch-entry-hub/library/alpine:3.20');
      await configCard.waitFor();
      assert.match(await configCard.innerText(), /config/);
      assert.match(await configCard.innerText(), /every 6h, up to 10m later/);
      assert.match(await page.getByTestId('watch-last-hub/library/alpine:3.20').innerText(), /never/);
      assert.equal(await page.getByTestId('watch-delete-hub/library/alpine:3.20').count(), 0, 'no delete for a config entry');

      // A bad interval: the server's field error lands under the field, which takes the focus.
      await page.getByTestId('watch-repository').fill('team/app');
      await page.getByTestId('watch-tags').fill('1.0, nightly');
      await page.getByTestId('watch-every').fill('5s');
      await page.getByTestId('watch-save').click();
      const everyError = page.getByTestId('error-watch-every');
      await everyError.waitFor();
      assert.match(await everyError.innerText(), /expected a duration/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'watch-every');

      await page.getByTestId('watch-every').fill('1h');
      await page.getByTestId('watch-keep').fill('2');
      await page.getByTestId('watch-save').click();
      const id = 'hub/team/app:1.0,nightly';
      const card = page.getByTestId(`watch-entry-${id}`);
      await card.waitFor();
      assert.match(await page.getByTestId('notice').innerText(), /Watching hub\/team\/app:1\.0,nightly/);
      assert.match(await card.innerText(), /admin/);
      assert.match(await card.innerText(), /2 digests per tag/);

      await page.getByTestId(`watch-run-${id}`).click();
      await page.getByTestId(`watch-tags-${id}`).waitFor();
      assert.match(await page.getByTestId('notice').innerText(), /2 tags moved/);
      const row = page.getByTestId(`watch-tag-${id}-1.0`);
      assert.match(await row.innerText(), new RegExp(signedDigest.slice(0, 19)));
      assert.match(await page.getByTestId(`watch-last-${id}`).innerText(), /ok/);

      // The config file's entry runs from here too.
      await page.getByTestId('watch-run-hub/library/alpine:3.20').click();
      await page.getByTestId('watch-tags-hub/library/alpine:3.20').waitFor();
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'watch-desktop');

      // Removing the admin entry asks first, then it is gone.
      await page.getByTestId(`watch-delete-${id}`).click();
      await page.getByRole('button', { name: 'Stop watching' }).click();
      await card.waitFor({ state: 'detached' });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('a run held back by the quota governor is on the Watch page, in the dashboard feed and on the upstream tile', slow, async () => {
    hub.faults = { rateLimitHeaders: { limit: '100;w=21600', remaining: '5;w=21600' } };
    hub.addImage('library/alpine', '3.20', [randomBytes(9000)]);
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 1280, height: 800 } });
    try {
      await logIn(page);
      await page.goto('/#/watch');
      await page.getByTestId('watch-run-hub/library/alpine:3.20').click();
      const message = page.getByTestId('watch-message-hub/library/alpine:3.20');
      await message.waitFor();
      assert.match(await message.innerText(), /below the reserve/);
      // Held back is not a success that fades: the notice is an error and stays.
      assert.match((await page.getByTestId('notice').getAttribute('class')) ?? '', /notice-error/);
      assert.match(await page.getByTestId('notice').innerText(), /held back/);
      assert.match(await page.getByTestId('quota-hub').innerText(), /5 of 100 pulls left per 6 h/);
      assert.match(await page.getByTestId('quota-hub').innerText(), /held back: [1-9]\d* watch step/);

      await page.goto('/#/');
      const held = page.getByTestId('strip-heldback-hub');
      await held.waitFor();
      assert.match(await held.innerText(), /held back: [1-9]\d* watch step/);
      const events = page.getByTestId('watch-events');
      await events.waitFor();
      const text = await events.innerText();
      assert.match(text, /run held back/);
      assert.match(text, /moved/);
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'watch-dashboard-desktop');
      assert.deepEqual(problems, []);
    } finally {
      hub.faults = {};
      await context.close();
    }
  });

  test('the cache explorer shows each image\'s verdict and signer; the upstream shows its policy', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 1280, height: 800 } });
    try {
      await logIn(page);
      await page.goto('/#/cache/hub/team%2Fapp');
      const signed = page.getByTestId(`image-${signedDigest}`).getByTestId('signature-verdict');
      await signed.waitFor();
      assert.equal(await signed.getAttribute('data-result'), 'pass');
      assert.match(await signed.innerText(), /signed\s+key sha256:/);
      const unsigned = page.getByTestId(`image-${unsignedDigest}`).getByTestId('signature-verdict');
      assert.equal(await unsigned.getAttribute('data-result'), 'fail');
      assert.match(await unsigned.innerText(), /unsigned \(audit\)\s+no signature found/);
      assert.equal(await horizontalOverflow(page), 0);
      await screenshot(page, 'verdicts-desktop');

      await page.getByTestId(`image-${signedDigest}`).getByTestId('image-digest').click();
      await page.getByTestId('image-signature').waitFor();
      assert.match(await page.getByTestId('image-signature').innerText(), /signed/);
      await screenshot(page, 'verdict-image-desktop');

      await page.goto('/#/upstreams');
      const policy = page.getByTestId('upstream-signatures-hub');
      await policy.waitFor();
      await policy.locator('summary').click();
      assert.match(await policy.innerText(), /team\/\*\s+audit, 1 of:\s+key sha256:/);
      await screenshot(page, 'upstream-signatures-desktop');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('at phone width the Watch page, the verdicts and the dashboard fit without sideways scrolling', slow, async () => {
    const phone = viewports[1];
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: phone.width, height: phone.height } });
    try {
      await logIn(page);
      await page.goto('/#/watch');
      await page.getByTestId('watch-tags-hub/library/alpine:3.20').waitFor();
      await screenshot(page, 'watch-phone');
      assert.equal(await horizontalOverflow(page), 0, 'watch page');
      await page.goto('/#/cache/hub/team%2Fapp');
      await page.getByTestId('signature-verdict').first().waitFor();
      await screenshot(page, 'verdicts-phone');
      assert.equal(await horizontalOverflow(page), 0, 'cache images');
      await page.goto('/#/');
      await page.getByTestId('strip-heldback-hub').waitFor();
      await screenshot(page, 'watch-dashboard-phone');
      assert.equal(await horizontalOverflow(page), 0, 'dashboard');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
