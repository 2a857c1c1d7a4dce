// The admin UI in a real browser (Debian's chromium through playwright-core) against a real mirror and a real
// upstream: the whole path of an operator who adds an upstream, pulls through it with skopeo, finds and purges
// the image, copies a client snippet and logs out; an upstream whose regional mirror is down; then the pages at a
// phone width and in dark mode. Who may pull is in admin-ui-access.test.ts, TLS passthrough routes in
// admin-ui-passthrough.test.ts. Screenshots of every page land in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AdminClient } from '../support/admin-client.js';
import { assertChromium, horizontalOverflow, openUi, screenshot } from '../support/browser.js';
import { browserSuitePrograms, failoverMirrorHost, openBrowserSuite, uiMirrorHost, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { assertInstalled } from '../support/installed-tools.js';
import { skopeo } from '../support/skopeo.js';
import { logIn } from '../support/ui-login.js';
import type { UpstreamView } from '../../src/admin/api-schemas.js';

const adminPassword = 'correct horse battery staple';
const slow = { timeout: 240_000 };

test('chromium, docker-registry, skopeo and openssl are installed for the browser tests', async () => {
  await assertChromium();
  await assertInstalled(...browserSuitePrograms);
});

/**
 * What the who-may-pull test (admin-ui-access.test.ts) leaves behind, made through the admin API instead of the
 * form: the registry user alice and the upstream guarded, with its regional mirror, address and repository rules.
 */
async function addGuardedUpstreamAndUser(s: BrowserSetup): Promise<void> {
  const admin = new AdminClient(s.adminUrl);
  assert.equal((await admin.login(adminPassword)).status, 200);
  const user = await admin.call('POST', '/api/users', { username: 'alice', password: 'a long enough password' });
  assert.equal(user.status, 201, user.text);
  const guarded = await admin.call('POST', '/api/upstreams', {
    name: 'guarded',
    registry: 'guarded.pullgate.test',
    url: 'https://origin.guarded.pullgate.test',
    mirrors: ['https://eu.guarded.pullgate.test'],
    access: { allow: ['10.0.0.0/8', '127.0.0.0/8'], login: 'required' },
    policy: { allow: [], deny: ['team/secret*', 'library/*:latest'] },
  });
  assert.equal(guarded.status, 201, guarded.text);
}

describe('the admin UI', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let suite: BrowserSuite | undefined;
  let work: string;

  before(async () => {
    suite = await openBrowserSuite(adminPassword);
    ({ s, browser } = suite);
    // The dark-mode and phone tests look at the pages with every kind of upstream and a stored user listed; the
    // user and the upstream with access rules come from the who-may-pull test, which lives in its own file.
    await addGuardedUpstreamAndUser(s);
    work = await mkdtemp(join(tmpdir(), 'pullgate-ui-work-'));
  }, { timeout: 240_000 });

  after(async () => {
    await suite?.close();
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
      await page.getByTestId('tab-containerd').click();
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

  test('an upstream whose regional mirror is down (set up in the form, with its retries and circuit): skopeo pulls through the origin, and the table shows that mirror skipped with its failure', slow, async () => {
    const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport: { width: 1280, height: 860 } });
    // A regional mirror that is stopped: a loopback port nothing listens on any more.
    const stopped = createServer().listen(0, '127.0.0.1');
    await once(stopped, 'listening');
    const deadPort = (stopped.address() as AddressInfo).port;
    await new Promise((resolve) => stopped.close(resolve));
    try {
      await page.goto('/#/upstreams/new');
      await logIn(page, adminPassword);
      await page.getByTestId('page-upstream-form').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('failover');
      await page.getByLabel('Registry name').fill('failover.pullgate.test');
      await page.getByLabel('URL', { exact: true }).fill(s.reg.url);
      await page.getByLabel('Regional mirrors').fill(`https://127.0.0.1:${deadPort}`);
      await page.getByLabel('Mirror hostnames').fill(failoverMirrorHost);
      await page.getByLabel('Extra CA certificates (PEM)').fill(s.caPem);
      await page.getByTestId('upstream-advanced').locator('summary').click();
      await page.getByLabel('Attempts').fill('1');
      await page.getByLabel('Failures to open').fill('1');
      await page.getByLabel('Open for').fill('10m');
      const saved = page.waitForResponse((r) => r.url().endsWith('/api/upstreams') && r.request().method() === 'POST');
      await page.getByTestId('upstream-save').click();
      const sent = (await saved).request().postDataJSON() as Record<string, unknown>;
      assert.deepEqual(sent['retries'], { attempts: 1, minDelay: '200ms', maxDelay: '2s' });
      assert.deepEqual(sent['circuit'], { failures: 1, openFor: '10m' });
      await page.getByTestId('upstream-row-failover').waitFor();

      const { app } = s.fixtures;
      await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir, `docker://${failoverMirrorHost}:${s.httpsPort}/${app.repository}:${app.tag}`, `dir:${join(work, 'failover-dir')}`]);

      // The list refreshes on its own; reloading is quicker. One failure opened the mirror's circuit; the origin
      // served the pull, so the upstream as a whole stays closed.
      await page.reload();
      const urls = page.getByTestId('upstream-urls-failover').locator('li');
      await urls.first().waitFor();
      assert.deepEqual(await urls.evaluateAll((els) => els.map((e) => e.getAttribute('data-circuit'))), ['open', 'closed']);
      // In words on the page (and the whole story for a screen reader, hidden from sight).
      assert.match(await urls.first().locator('.circuit-note').innerText(), /^skipped · 1 failure\n: circuit open, 1 failure in a row; last failure: .*ECONNREFUSED/);
      assert.match((await urls.first().getAttribute('title')) ?? '', new RegExp(`^https://127\\.0\\.0\\.1:${deadPort}: circuit open, 1 failure in a row; last failure: .+`));
      assert.equal(await urls.nth(1).locator('.circuit-note').count(), 0, 'the origin in use with no failure needs no words');
      // The origin served the pull: the upstream as a whole is up, one status, no contradiction with the mirror's.
      const status = page.getByTestId('upstream-status-failover');
      assert.equal(await status.getAttribute('data-state'), 'up');
      assert.match(await status.innerText(), /^up\nlast answer /);
      const api = (await (await page.request.get('/api/upstreams')).json()) as { upstreams: UpstreamView[] };
      const health = api.upstreams.find((u) => u.name === 'failover')?.health;
      assert.deepEqual(
        health?.urls?.map((u) => [u.role, u.circuit, u.failures]),
        [
          ['mirror', 'open', 1],
          ['origin', 'closed', 0],
        ],
      );
      await screenshot(page, 'desktop-upstreams-circuit');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('the new pages in dark mode at desktop width', slow, async () => {
    const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
    try {
      await page.goto('/');
      await logIn(page, adminPassword);
      await page.getByTestId('page-dashboard').waitFor();
      for (const [route, testid] of [
        ['users', 'page-users'],
        ['passthrough', 'page-passthrough'],
        ['upstreams', 'page-upstreams'],
        ['upstreams/new', 'page-upstream-form'],
        ['audit', 'page-audit'],
        ['setup', 'page-setup'],
      ] as const) {
        await page.goto(`/#/${route}`);
        await page.getByTestId(testid).waitFor();
        await page.waitForFunction(() => !document.body.innerText.includes('Loading…'));
        if (route === 'upstreams/new') await page.getByTestId('upstream-advanced').locator('summary').click();
        if (route === 'upstreams') {
          // With every kind of upstream listed, each row's actions are on screen, not behind a sideways scroll.
          const hidden = await page.getByTestId('upstream-table').evaluate((table) => {
            const wrap = (table.parentElement as HTMLElement).getBoundingClientRect();
            return [...table.querySelectorAll('.actions-cell .button')].filter((b) => b.getBoundingClientRect().right > wrap.right + 1).map((b) => b.textContent);
          });
          assert.deepEqual(hidden, []);
        }
        await screenshot(page, `desktop-dark-${route.replace('/', '-')}`);
        assert.equal(await horizontalOverflow(page), 0, `#/${route} scrolls sideways`);
      }
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
          ['users', 'page-users'],
          ['passthrough', 'page-passthrough'],
          ['setup', 'page-setup'],
          ['audit', 'page-audit'],
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
