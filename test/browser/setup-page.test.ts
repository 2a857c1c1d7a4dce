// The Setup page in a real browser (chromium) at a desktop and a phone width: at 390 px the client tabs stay on one
// row and scroll sideways within it, and long commands (a long registry name through a long mirror address) scroll
// inside their own box, so the document itself never scrolls sideways whichever client is shown. Screenshots of
// both widths land in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildWeb } from '../../web/build.js';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { httpsListener } from '../support/registry-client.js';

const adminPassword = 'admin-password-for-tests';
const slow = { timeout: 120_000 };
const longRegistry = 'registry.a-rather-long-internal-department-name.build-artifacts.example.com';
const longMirror = 'https://pullgate-mirror.container-images.a-long-internal-domain.example.com:5443';

async function openSetup(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Admin password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('page-dashboard').waitFor();
  await page.goto('/#/setup');
  await page.getByTestId('page-setup').waitFor();
  await page.getByLabel('Mirror address').fill(longMirror);
  await page.getByRole('button', { name: 'Update snippets' }).click();
  await page.getByTestId('tab-any').waitFor();
  await page.waitForFunction((host) => document.body.innerText.includes(host), new URL(longMirror).host);
}

/** The client tabs: how many there are, on how many rows, and whether the row's box stays within the viewport. */
function tabRow(page: Page): Promise<{ tabs: number; rows: number; rowRight: number; viewport: number }> {
  return page.getByRole('tablist', { name: 'Clients' }).evaluate((list) => {
    const tabs = [...list.querySelectorAll('[role="tab"]')].map((t) => t.getBoundingClientRect());
    return {
      tabs: tabs.length,
      rows: new Set(tabs.map((r) => Math.round(r.top))).size,
      rowRight: list.getBoundingClientRect().right,
      viewport: document.documentElement.clientWidth,
    };
  });
}

/** For the shown panel's code boxes: how many are wider inside than their box, and the rightmost box's edge. */
function codeBoxes(page: Page): Promise<{ boxes: number; scrolling: number; right: number }> {
  return page.evaluate(() => {
    const boxes = [...document.querySelectorAll('[role="tabpanel"]:not([hidden]) pre.code')] as HTMLElement[];
    return {
      boxes: boxes.length,
      scrolling: boxes.filter((b) => b.scrollWidth > b.clientWidth).length,
      right: Math.max(0, ...boxes.map((b) => b.getBoundingClientRect().right)),
    };
  });
}

describe('the Setup page at desktop and phone widths', () => {
  let mirror: TestMirror;
  let browser: Browser;

  before(async () => {
    await assertChromium();
    await buildWeb();
    const tls = await httpsListener();
    mirror = await startMirror(
      {
        ...tls,
        listen: { ...tls.listen, admin: '127.0.0.1:0' },
        upstreams: [
          { name: 'hub', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true },
          { name: 'ghcr', registry: 'ghcr.io', url: 'http://127.0.0.1:9' },
          { name: 'internal', registry: longRegistry, url: 'http://127.0.0.1:9' },
        ],
      },
      { adminPassword },
    );
    browser = await launchBrowser();
  }, { timeout: 240_000 });

  after(async () => {
    await browser?.close();
    await mirror?.close();
  });

  test('at 390 px the client tabs stay on one row and scroll within it, long commands scroll in their own box, and the document does not scroll sideways', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await openSetup(page);
      const row = await tabRow(page);
      assert.equal(row.tabs, 5, 'every kind of client has a tab');
      assert.equal(row.rows, 1, 'the tabs stay on one row');
      assert.ok(row.rowRight <= row.viewport, `the tab row ends within the viewport (${row.rowRight} > ${row.viewport})`);
      let scrolling = 0;
      for (const client of ['docker', 'containerd', 'kubernetes', 'podman', 'any']) {
        // A click event of its own: playwright's click() would scroll the tab into view first.
        await page.getByTestId(`tab-${client}`).dispatchEvent('click');
        await page.getByTestId(`client-${client}`).waitFor();
        const selected = await page.getByTestId(`tab-${client}`).evaluate((t) => {
          const r = t.getBoundingClientRect();
          return r.left >= 0 && r.right <= document.documentElement.clientWidth;
        });
        assert.ok(selected, `the ${client} tab is scrolled into view when chosen`);
        const code = await codeBoxes(page);
        assert.ok(code.boxes > 0, `${client} shows its snippets`);
        assert.ok(code.right <= row.viewport, `${client}: a code box ends past the viewport (${code.right})`);
        scrolling += code.scrolling;
        await screenshot(page, `phone-setup-${client}`);
        assert.equal(await horizontalOverflow(page), 0, `the Setup page scrolls sideways with the ${client} tab shown`);
      }
      assert.ok(scrolling > 0, 'some long line scrolls inside its own box');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  test('at 1280 px the tabs sit on one row and the commands fit the page', slow, async () => {
    const { page, context, problems } = await openUi(browser, mirror.adminUrl ?? '', { viewport: { width: 1280, height: 800 } });
    try {
      await openSetup(page);
      assert.equal((await tabRow(page)).rows, 1);
      for (const client of ['docker', 'any']) {
        await page.getByTestId(`tab-${client}`).click();
        await screenshot(page, `desktop-setup-${client}`);
        assert.equal(await horizontalOverflow(page), 0, `the Setup page scrolls sideways with the ${client} tab shown`);
      }
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
