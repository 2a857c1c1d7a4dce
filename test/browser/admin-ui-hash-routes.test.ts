// The admin UI in a real browser (chromium) under hash routes it did not make: a malformed percent-encoding in the
// address bar (`#/cache/%E0`, a hand-edited bookmark) leaves the page working, and the navigation still works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { buildWeb } from '../../web/build.js';
import { assertChromium, launchBrowser, openUi } from '../support/browser.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const adminPassword = 'admin-password-for-tests';

describe('the admin UI under malformed hash routes', () => {
  let mirror: TestMirror;
  let browser: Browser;

  before(async () => {
    await assertChromium();
    await buildWeb();
    mirror = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword });
    browser = await launchBrowser();
  }, { timeout: 240_000 });

  after(async () => {
    await browser?.close();
    await mirror?.close();
  });

  test('#/cache/%E0 renders a page, raises no script error, and the navigation still leads to the upstreams', { timeout: 120_000 }, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '');
    try {
      await page.goto('/');
      await page.getByLabel('Admin password').fill(adminPassword);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByTestId('page-dashboard').waitFor();
      for (const hash of ['#/cache/%E0', '#/cache/%', '#/%ZZ/x', '#/cache/hub/%E0%A4']) {
        await page.goto(`/${hash}`);
        await page.getByTestId('nav-upstreams').waitFor({ timeout: 10_000 });
      }
      await page.getByTestId('nav-upstreams').click();
      await page.getByTestId('page-upstreams').waitFor({ timeout: 10_000 });
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
