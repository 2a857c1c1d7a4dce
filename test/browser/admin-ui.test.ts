// The admin UI in a real browser (Debian's chromium through playwright-core) against a real mirror and a real
// upstream: the whole path of an operator who adds an upstream, pulls through it with skopeo, finds and purges
// the image, copies a client snippet and logs out; then the same pages at a phone width and in dark mode.
// Screenshots of every page land in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { startBrowserSetup, uiMirrorHost, type BrowserSetup } from '../support/browser-setup.js';
import { assertInstalled } from '../support/installed-tools.js';
import { skopeo } from '../support/skopeo.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl'];
const adminPassword = 'correct horse battery staple';
const slow = { timeout: 240_000 };

test('chromium, docker-registry, skopeo and openssl are installed for the browser tests', async () => {
  await assertChromium();
  await assertInstalled(...requiredPrograms);
});

async function logIn(page: Page, password: string): Promise<void> {
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the admin UI', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let work: string;

  before(async () => {
    await assertChromium();
    await assertInstalled(...requiredPrograms);
    s = await startBrowserSetup(adminPassword);
    browser = await launchBrowser();
    work = await mkdtemp(join(tmpdir(), 'pullgate-ui-work-'));
  }, { timeout: 240_000 });

  after(async () => {
    await browser?.close();
    await s?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('an operator logs in, adds an upstream (fixing a wrong URL), pulls through it with skopeo, purges the image, copies hosts.toml and logs out', slow, async () => {
    const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport: { width: 1280, height: 860 } });
    try {
      // Login: a wrong password first gets its own message, and no session.
      await page.goto('/');
      await screenshot(page, 'desktop-login');
      await logIn(page, 'not the password');
      await assert.doesNotReject(page.getByTestId('login-error').waitFor());
      assert.match(await page.getByTestId('login-error').innerText(), /wrong password/i);
      await screenshot(page, 'desktop-login-error');
      await logIn(page, adminPassword);
      await page.getByTestId('page-dashboard').waitFor();
      await page.getByTestId('stat-size').waitFor();
      await screenshot(page, 'desktop-dashboard');

      // Add an upstream: a URL that is not http(s) is refused next to the URL field.
      await page.getByTestId('nav-upstreams').click();
      await page.getByTestId('page-upstreams').waitFor();
      await page.getByTestId('upstream-add').click();
      await page.getByLabel('Name', { exact: true }).fill('lab');
      await page.getByLabel('Registry name').fill(s.reg.host);
      await page.getByLabel('URL', { exact: true }).fill('ftp://upstream.pullgate.test');
      await page.getByTestId('upstream-save').click();
      const urlError = page.getByTestId('error-upstream-url');
      assert.match(await urlError.innerText(), /expected an http:\/\/ or https:\/\/ URL/);
      assert.equal(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid'), 'true');
      await screenshot(page, 'desktop-upstream-form-url-error');

      // The server's own validation lands next to its field too: a mirror hostname that is not a hostname.
      await page.getByLabel('URL', { exact: true }).fill(s.reg.url);
      await page.getByLabel('Mirror hostnames').fill('not a host!');
      await page.getByTestId('upstream-save').click();
      await page.getByTestId('error-upstream-hosts').waitFor();
      assert.equal(await urlError.count(), 0, 'the fixed URL no longer shows an error');
      assert.ok((await page.getByTestId('error-upstream-hosts').innerText()).length > 0);

      // Fixed: the mirror hostname, the upstream's CA; the test button runs every step against the real registry.
      await page.getByLabel('Mirror hostnames').fill(uiMirrorHost);
      await page.getByLabel('Extra CA certificates (PEM)').fill(s.caPem);
      await page.getByLabel('Image to look up (optional)').fill(`${s.fixtures.app.repository}:${s.fixtures.app.tag}`);
      await page.getByTestId('upstream-test').click();
      const result = page.getByTestId('test-result');
      await result.waitFor({ timeout: 30_000 });
      assert.equal(await result.getAttribute('data-ok'), 'true', await result.innerText());
      const steps = page.locator('[data-testid^="test-step-"]');
      assert.ok((await steps.count()) >= 2, 'the test shows its steps');
      for (const okFlag of await steps.evaluateAll((els) => els.map((e) => e.getAttribute('data-ok')))) assert.equal(okFlag, 'true');
      assert.equal(await page.getByTestId('test-step-manifest').getAttribute('data-ok'), 'true');
      await screenshot(page, 'desktop-upstream-form-tested');
      await page.getByTestId('upstream-save').click();
      const row = page.getByTestId('upstream-row-lab');
      await row.waitFor();
      assert.match(await row.innerText(), /admin/);
      await screenshot(page, 'desktop-upstreams');

      // A real client pulls through the new upstream by its mirror hostname.
      const { app } = s.fixtures;
      const dest = join(work, 'app-dir');
      await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir, `docker://${s.mirrorAt}/${app.repository}:${app.tag}`, `dir:${dest}`]);

      // The dashboard shows the pull live (the activity stream) and counts its bytes.
      await page.getByTestId('nav-dashboard').click();
      const requests = page.getByTestId('requests');
      await requests.waitFor();
      await page.waitForFunction((repo) => document.querySelector('[data-testid="requests"]')?.textContent?.includes(`lab/${repo}`), app.repository);
      assert.notEqual(await page.getByTestId('stat-served').locator('.stat-value').innerText(), '0 B');
      await page.getByTestId('traffic-chart').locator('svg').waitFor();
      await screenshot(page, 'desktop-dashboard-after-pull');

      // The cache explorer shows it: upstream -> repository -> the image with its tag and digest.
      await page.getByTestId('nav-cache').click();
      await page.getByTestId('cache-upstream-lab').click();
      await page.getByTestId(`cache-repository-${app.repository}`).click();
      const image = page.getByTestId(`image-${app.digest}`);
      await image.waitFor();
      assert.match(await image.innerText(), new RegExp(`\\b${app.tag.replace('.', '\\.')}\\b`));
      assert.equal(await image.getByTestId('image-digest').getAttribute('data-digest'), app.digest);
      await screenshot(page, 'desktop-cache-images');

      // Purge it (after confirming) and it is gone, from the page and from the server's index.
      await image.getByTestId('image-purge').click();
      await page.getByTestId('confirm-dialog').waitFor();
      await screenshot(page, 'desktop-cache-purge-confirm');
      await page.getByTestId('confirm-ok').click();
      await page.getByTestId('no-images').waitFor();
      assert.equal(await page.getByTestId(`image-${app.digest}`).count(), 0);
      const images = await page.request.get(`/api/cache/images?upstream=lab&repository=${encodeURIComponent(app.repository)}`);
      assert.equal(images.status(), 200);
      assert.deepEqual(((await images.json()) as { images: unknown[] }).images, []);
      await screenshot(page, 'desktop-cache-purged');

      // Setup: the hosts.toml snippet for the new upstream names the mirror, and Copy puts exactly it on the clipboard.
      await page.getByTestId('nav-setup').click();
      const mirrorUrl = `https://${s.mirrorAt}`;
      await page.getByLabel('Mirror address').fill(mirrorUrl);
      await page.getByRole('button', { name: 'Update snippets' }).click();
      const snippet = page.locator('[data-upstream="lab"][data-file$="hosts.toml"]');
      await snippet.waitFor();
      await page.waitForFunction((url) => document.body.innerText.includes(url), mirrorUrl);
      const shown = await snippet.locator('pre').innerText();
      await snippet.getByTestId('snippet-copy').click();
      await snippet.getByRole('button', { name: 'Copied' }).waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.equal(copied.trim(), shown.trim());
      assert.ok(copied.includes(uiMirrorHost), `the hosts.toml snippet names the mirror: ${copied}`);
      assert.match(copied, /\[host\."https:\/\/[^"]+"\]/);
      await screenshot(page, 'desktop-setup');

      // The remaining pages, for the record.
      await page.getByTestId('nav-prefetch').click();
      await page.getByTestId('page-prefetch').waitFor();
      await screenshot(page, 'desktop-prefetch');

      // Log out: back to the login page, and a reload does not bring the session back.
      await page.getByTestId('logout').click();
      await page.getByTestId('login-form').waitFor();
      await page.reload();
      await page.getByTestId('login-form').waitFor();
      const session = await page.request.get('/api/session');
      assert.equal(((await session.json()) as { authenticated: boolean }).authenticated, false);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('at a phone width the pages fit without sideways scrolling, and dark mode turns the page dark', slow, async () => {
    const light = await openUi(browser, s.adminUrl, { viewport: { width: 390, height: 844 }, colorScheme: 'light' });
    const dark = await openUi(browser, s.adminUrl, { viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    try {
      const background = (page: Page): Promise<number> =>
        page.evaluate(() => {
          const [r = 0, g = 0, b = 0] = (getComputedStyle(document.body).backgroundColor.match(/\d+/g) ?? []).map(Number);
          return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        });
      for (const [name, ui] of [['light', light], ['dark', dark]] as const) {
        const { page } = ui;
        await page.goto('/');
        await page.getByTestId('login-form').waitFor();
        await screenshot(page, `phone-${name}-login`);
        assert.equal(await horizontalOverflow(page), 0, `${name} login overflows`);
        await logIn(page, adminPassword);
        for (const [route, testid] of [
          ['', 'page-dashboard'],
          ['upstreams', 'page-upstreams'],
          ['upstreams/new', 'page-upstream-form'],
          ['cache', 'page-cache'],
          ['prefetch', 'page-prefetch'],
          ['setup', 'page-setup'],
        ] as const) {
          await page.goto(`/#/${route}`);
          await page.getByTestId(testid).waitFor();
          // Wait for the page's data, not only its frame: "Loading…" placeholders are not what a user reads.
          await page.waitForFunction(() => !document.body.innerText.includes('Loading…'));
          await screenshot(page, `phone-${name}-${route.replace('/', '-') || 'dashboard'}`);
          assert.equal(await horizontalOverflow(page), 0, `${name} #/${route} scrolls sideways`);
        }
      }
      assert.ok((await background(light.page)) > 0.8, 'light mode has a light background');
      assert.ok((await background(dark.page)) < 0.15, 'dark mode has a dark background');
      assert.deepEqual([...light.problems, ...dark.problems], []);
    } finally {
      await light.context.close();
      await dark.context.close();
    }
  });
});
