// Who may pull, set up in the admin UI in a real browser (Debian's chromium through playwright-core) against a real
// mirror: registry users (the config file's read-only) and an upstream's address and repository rules, with the
// server's refusals named next to their fields. Screenshots land in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { openUi, screenshot } from '../support/browser.js';
import { configUser, openBrowserSuite, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { logIn } from '../support/ui-login.js';

const adminPassword = 'correct horse battery staple';
const slow = { timeout: 240_000 };

describe('the admin UI', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let suite: BrowserSuite | undefined;

  before(async () => {
    suite = await openBrowserSuite(adminPassword);
    ({ s, browser } = suite);
  }, { timeout: 240_000 });

  after(async () => {
    await suite?.close();
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

  test('fixing a typo in an upstream URL in its form keeps the settings the form does not show (segments, quota, direct reads, webhook, watch entries)', slow, async () => {
    for (const [size, viewport] of [['desktop', { width: 1280, height: 860 }], ['phone', { width: 390, height: 844 }]] as const) {
      const { page, context, problems } = await openUi(browser, s.adminUrl, { viewport });
      try {
        await page.goto('/#/upstreams');
        await logIn(page, adminPassword);
        await page.getByTestId('page-upstreams').waitFor();
        const name = `tuned-${size}`;
        const { csrfToken } = (await (await page.request.get('/api/session')).json()) as { csrfToken: string };
        const segments = { connections: 4, maxConnections: 8, sizeBytes: 16 << 20, thresholdBytes: 64 << 20, resumes: 7, stallTimeoutMs: 20_000 };
        const added = await page.request.post('/api/upstreams', {
          headers: { 'x-csrf-token': csrfToken },
          data: {
            name,
            registry: `${name}.pullgate.test`,
            url: `https://orign.${name}.pullgate.test`,
            segments: { connections: 4, maxConnections: 8, size: '16MiB', threshold: '64MiB', resumes: 7, stallTimeout: '20s' },
            quota: { reserve: 50 },
            directReads: false,
            watchWebhook: 'https://hooks.pullgate.test/tuned/T000/secretpath?token=querysecret',
            watch: [{ repository: 'library/node', tags: ['22*'], newest: 2, every: '6h', jitter: '90s' }],
          },
        });
        assert.equal(added.status(), 201, await added.text());
        await page.reload();
        await page.getByTestId(`upstream-edit-${name}`).click();
        await page.getByTestId('page-upstream-form').waitFor();
        await page.getByLabel('URL', { exact: true }).fill(`https://origin.${name}.pullgate.test`);
        await screenshot(page, `${size}-upstream-form-edit-url`);
        const put = page.waitForResponse((r) => r.url().endsWith(`/api/upstreams/${name}`) && r.request().method() === 'PUT');
        await page.getByTestId('upstream-save').click();
        const response = await put;
        assert.equal(response.status(), 200);
        // The form never had the webhook's secret path to send back: the edit leaves it out and the stored one is kept.
        assert.equal((response.request().postDataJSON() as Record<string, unknown>).watchWebhook, undefined);
        assert.doesNotMatch(await response.text(), /secretpath|querysecret/);
        await page.getByTestId(`upstream-row-${name}`).waitFor();
        const list = (await (await page.request.get('/api/upstreams')).json()) as {
          upstreams: { name: string; url: string; segments: unknown; directReads: boolean; watchWebhook?: unknown; quota: { setting: unknown }; watch: unknown[] }[];
        };
        const saved = list.upstreams.find((u) => u.name === name);
        assert.equal(saved?.url, `https://origin.${name}.pullgate.test`);
        assert.deepEqual(saved?.segments, segments);
        assert.deepEqual(saved?.quota.setting, { reserve: 50 });
        assert.equal(saved?.directReads, false);
        assert.deepEqual(saved?.watchWebhook, { origin: 'https://hooks.pullgate.test' });
        assert.equal(s.app.upstreams.router().named(name)?.config.watchWebhook, 'https://hooks.pullgate.test/tuned/T000/secretpath?token=querysecret');
        assert.deepEqual(saved?.watch, [{ repository: 'library/node', tags: ['22*'], newest: 2, maxTags: 50, platforms: [], everyMs: 6 * 3_600_000, jitterMs: 90_000, keep: 3 }]);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    }
  });
});
