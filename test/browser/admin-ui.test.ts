// The admin UI in a real browser (Debian's chromium through playwright-core) against a real mirror and a real
// upstream: the whole path of an operator who adds an upstream, pulls through it with skopeo, finds and purges
// the image, copies a client snippet and logs out; who may pull (registry users, address and repository rules) and
// TLS passthrough routes, used by a real TLS client; then the same pages at a phone width and in dark mode.
// Screenshots of every page land in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Browser, Page } from 'playwright-core';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { configRoute, configUser, failoverMirrorHost, startBrowserSetup, uiMirrorHost, type BrowserSetup } from '../support/browser-setup.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startTlsEcho } from '../support/passthrough-backends.js';
import { skopeo } from '../support/skopeo.js';
import type { UpstreamView } from '../../src/admin/api-schemas.js';

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

  test('who may pull: a registry user is added (config users stay read-only), a bad CIDR and a bad repository rule are refused next to their fields, and the rules saved show in the table', slow, async () => {
    const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport: { width: 1280, height: 860 } });
    try {
      await page.goto('/#/users');
      await logIn(page, adminPassword);
      await page.getByTestId('page-users').waitFor();

      // The login command names the mirror address the server knows, without its scheme (what docker login takes).
      const setup = (await (await page.request.get('/api/setup')).json()) as { mirror: string };
      const command = page.getByTestId('users-login-command');
      await page.waitForFunction(() => !document.querySelector('[data-testid="users-login-command"]')?.textContent?.includes('Loading'));
      assert.equal((await command.innerText()).trim(), `docker login ${new URL(setup.mirror).host}`);

      // The config file's user is listed read-only: no remove button, and saving it is refused next to the username.
      const configRow = page.getByTestId(`user-row-${configUser}`);
      await configRow.waitFor();
      assert.match(await configRow.innerText(), /config/);
      assert.equal(await page.getByTestId(`user-delete-${configUser}`).count(), 0);
      await page.getByLabel('Username').fill(configUser);
      await page.getByLabel('Password', { exact: true }).fill('short');
      await page.getByTestId('user-save').click();
      assert.match(await page.getByTestId('error-user-password').innerText(), /at least 8 characters/);
      await page.getByLabel('Password', { exact: true }).fill('a long enough password');
      const refused = page.waitForResponse((r) => r.url().endsWith('/api/users') && r.request().method() === 'POST');
      await page.getByTestId('user-save').click();
      assert.equal((await refused).status(), 409);
      assert.match(await page.getByTestId('error-user-username').innerText(), /config file/);

      // A new user: listed as stored, and the API has it.
      await page.getByLabel('Username').fill('alice');
      await page.getByTestId('user-save').click();
      const alice = page.getByTestId('user-row-alice');
      await alice.waitFor();
      assert.match(await alice.innerText(), /stored/);
      assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'the password field is cleared after saving');
      const users = (await (await page.request.get('/api/users')).json()) as { users: { username: string; source: string }[] };
      assert.deepEqual(
        users.users.map((u) => [u.username, u.source]).sort(),
        [['alice', 'stored'], [configUser, 'config']],
      );
      await screenshot(page, 'desktop-users');

      // An upstream with a regional mirror, who may pull and what: the server refuses the bad CIDR (access.allow.1)
      // and the bad repository rule (policy.deny.0), each named next to its own field.
      await page.goto('/#/upstreams/new');
      await page.getByTestId('page-upstream-form').waitFor();
      await page.getByLabel('Name', { exact: true }).fill('guarded');
      await page.getByLabel('Registry name').fill('guarded.pullgate.test');
      await page.getByLabel('URL', { exact: true }).fill('https://origin.guarded.pullgate.test');
      await page.getByLabel('Regional mirrors').fill('https://eu.guarded.pullgate.test');
      await page.getByLabel('Allowed client addresses').fill('10.0.0.0/8\n10.0.0.300/8');
      await page.getByLabel('Refused repositories').fill('Team/App');
      const answer = page.waitForResponse((r) => r.url().endsWith('/api/upstreams') && r.request().method() === 'POST');
      await page.getByTestId('upstream-save').click();
      const refusal = await answer;
      assert.equal(refusal.status(), 400);
      const paths = ((await refusal.json()) as { fields: { path: string }[] }).fields.map((f) => f.path).sort();
      assert.deepEqual(paths, ['access.allow.1', 'policy.deny.0']);
      const cidrError = page.getByTestId('error-upstream-accessAllow');
      assert.match(await cidrError.innerText(), /^⚠?\s*10\.0\.0\.300\/8: expected an address or a CIDR block/);
      assert.equal(await page.getByLabel('Allowed client addresses').getAttribute('aria-invalid'), 'true');
      assert.match(await page.getByTestId('error-upstream-policyDeny').innerText(), /Team\/App: expected repository\[:tag\]/);
      assert.equal(await page.getByTestId('form-error').count(), 0, 'no error is left without its field');
      await screenshot(page, 'desktop-upstream-form-access-error');

      // A client-side check inside the closed "Retries and circuit breaker" section opens it and shows its error.
      const advanced = page.getByTestId('upstream-advanced');
      assert.equal(await advanced.evaluate((d) => (d as HTMLDetailsElement).open), false);
      await advanced.locator('summary').click();
      await page.getByLabel('Failures to open').fill('0');
      await advanced.locator('summary').click();
      await page.getByTestId('upstream-save').click();
      assert.equal(await advanced.evaluate((d) => (d as HTMLDetailsElement).open), true);
      assert.match(await page.getByTestId('error-upstream-circuitFailures').innerText(), /from 1 to 1000/);
      await page.getByLabel('Failures to open').fill('3');

      // Fixed: saved, and the table shows the mirror before the origin, each with its circuit, and the rules.
      await page.getByLabel('Allowed client addresses').fill('10.0.0.0/8\n127.0.0.0/8');
      await page.getByLabel('Refused repositories').fill('team/secret*\nlibrary/*:latest');
      await page.getByLabel('Login', { exact: true }).selectOption('required');
      await page.getByTestId('upstream-save').click();
      const row = page.getByTestId('upstream-row-guarded');
      await row.waitFor();
      const urls = page.getByTestId('upstream-urls-guarded').locator('li');
      assert.deepEqual(
        await urls.evaluateAll((els) => els.map((e) => [e.querySelector('.mono')?.textContent, e.querySelector('.badge')?.textContent, e.getAttribute('data-circuit')])),
        [
          ['https://eu.guarded.pullgate.test', 'mirror', 'closed'],
          ['https://origin.guarded.pullgate.test', 'origin', 'closed'],
        ],
      );
      // One status in words: nothing has talked to it yet.
      assert.equal((await page.getByTestId('upstream-status-guarded').innerText()).trim(), 'not contacted yet');
      const summary = page.getByTestId('upstream-access-guarded');
      assert.match(await summary.innerText(), /login required/);
      // One line per rule list (its full text in the tooltip): addresses allowed, repositories blocked; nothing else.
      assert.deepEqual(
        await summary
          .locator('.access-line')
          .evaluateAll((els) => els.map((e) => [e.querySelector('.muted')?.textContent, [...e.querySelectorAll('.entry')].map((x) => x.textContent), e.getAttribute('title')])),
        [
          ['allow', ['10.0.0.0/8', '127.0.0.0/8'], 'allow: 10.0.0.0/8, 127.0.0.0/8'],
          ['block', ['team/secret*', 'library/*:latest'], 'block: team/secret*, library/*:latest'],
        ],
      );
      await screenshot(page, 'desktop-upstreams-access');

      // What was stored is what was typed; the keys left empty are absent, so the global settings apply to them.
      const list = (await (await page.request.get('/api/upstreams')).json()) as {
        upstreams: { name: string; mirrors: string[]; access?: Record<string, unknown>; policy?: Record<string, unknown> }[];
      };
      const saved = list.upstreams.find((u) => u.name === 'guarded');
      assert.deepEqual(saved?.mirrors, ['https://eu.guarded.pullgate.test']);
      assert.deepEqual(saved?.access, { allow: ['10.0.0.0/8', '127.0.0.0/8'], login: 'required' });
      assert.deepEqual(saved?.policy, { allow: [], deny: ['team/secret*', 'library/*:latest'] });

      // Editing it starts from what is saved.
      await page.getByTestId('upstream-edit-guarded').click();
      await page.getByTestId('page-upstream-form').waitFor();
      assert.equal(await page.getByLabel('Allowed client addresses').inputValue(), '10.0.0.0/8\n127.0.0.0/8');
      assert.equal(await page.getByLabel('Refused client addresses').inputValue(), '');
      assert.equal(await page.getByLabel('Refused repositories').inputValue(), 'team/secret*\nlibrary/*:latest');
      assert.equal(await page.getByLabel('Login', { exact: true }).inputValue(), 'required');
      assert.equal(await page.getByLabel('Regional mirrors').inputValue(), 'https://eu.guarded.pullgate.test');
      await advanced.locator('summary').click();
      await screenshot(page, 'desktop-upstream-form-edit-access');
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

  test('a passthrough route is added (mistakes named next to their field), carries a real TLS connection whose counters the page shows, and is deleted', slow, async () => {
    const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport: { width: 1280, height: 860 } });
    const cert = await s.reg.ca.issue('ui-passthrough-backend', ['git.secure.pullgate.test']);
    const backend = await startTlsEcho('git', cert);
    try {
      await page.goto('/#/passthrough');
      await logIn(page, adminPassword);
      await page.getByTestId('page-passthrough').waitFor();

      // The config file's route: listed, read-only.
      const configRow = page.getByTestId(`route-row-${configRoute.sni}`);
      await configRow.waitFor();
      assert.match(await configRow.innerText(), new RegExp(`config[\\s\\S]*${configRoute.to.replace(/\./g, '\\.')}`));
      assert.equal(await page.getByTestId(`route-delete-${configRoute.sni}`).count(), 0);

      // A name routed already is refused by the server next to the server name; a port above 65535 next to the backend.
      await page.getByLabel('Server name (SNI)').fill(configRoute.sni);
      await page.getByLabel('Backend').fill(backend.to);
      await page.getByTestId('route-save').click();
      assert.match(await page.getByTestId('error-route-sni').innerText(), /routed already/);
      await page.getByLabel('Server name (SNI)').fill('git.secure.pullgate.test');
      await page.getByLabel('Backend').fill('127.0.0.1:70000');
      await page.getByTestId('route-save').click();
      assert.match(await page.getByTestId('error-route-to').innerText(), /port from 1 to 65535/);
      assert.equal(await page.getByTestId('error-route-sni').count(), 0);
      await screenshot(page, 'desktop-passthrough-error');

      await page.getByLabel('Backend').fill(backend.to);
      await page.getByTestId('route-save').click();
      const row = page.getByTestId('route-row-git.secure.pullgate.test');
      await row.waitFor();
      assert.match(await row.innerText(), /admin/);

      // A real TLS client reaches the backend through the mirror's HTTPS port, still encrypted end to end (the
      // backend's own certificate), and the page's counters show the connection and its bytes.
      const socket = tlsConnect({ host: '127.0.0.1', port: s.httpsPort, servername: 'git.secure.pullgate.test', ca: s.reg.ca.caCertPem });
      await once(socket, 'secureConnect');
      socket.write('ping\n');
      const [reply] = (await once(socket, 'data')) as [Buffer];
      assert.equal(reply.toString(), 'git git.secure.pullgate.test ping\n');
      socket.end();
      await once(socket, 'close');
      const connections = row.locator('td[data-label="Connections"]');
      await page.waitForFunction(
        () => document.querySelector('[data-testid="route-row-git.secure.pullgate.test"] td[data-label="Connections"]')?.textContent?.trim() === '1',
        undefined,
        { timeout: 15_000 },
      );
      assert.equal((await connections.innerText()).trim(), '1');
      assert.notEqual((await row.locator('td[data-label="To backend"]').innerText()).trim(), '0 B');
      assert.notEqual((await row.locator('td[data-label="To clients"]').innerText()).trim(), '0 B');
      await screenshot(page, 'desktop-passthrough');

      // Deleted after confirming: gone from the page and from the API.
      await page.getByTestId('route-delete-git.secure.pullgate.test').click();
      await page.getByTestId('confirm-dialog').waitFor();
      await page.getByTestId('confirm-ok').click();
      await row.waitFor({ state: 'detached' });
      const routes = (await (await page.request.get('/api/passthrough')).json()) as { routes: { sni: string }[] };
      assert.deepEqual(routes.routes.map((r) => r.sni), [configRoute.sni]);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
      await backend.close();
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
