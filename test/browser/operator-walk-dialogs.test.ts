// Confirm dialogs in the admin UI, in a real browser (Debian's chromium through playwright-core) against a real
// mirror (test/support/browser-setup.ts): centred and readable at 1280x800 and 390x844. Screenshots land in
// test-artifacts/screenshots/walk-*.png.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { AdminClient } from '../support/admin-client.js';
import { openUi, screenshot, type UiContext } from '../support/browser.js';
import { openBrowserSuite, uiMirrorHost, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { dialogReadable } from '../support/ui-layout-checks.js';
import { logInToDashboard } from '../support/ui-login.js';

const adminPassword = 'walk through every page';
const slow = { timeout: 240_000 };
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

/** Signs in on the page and waits for the dashboard. */
const logIn = (page: Page): Promise<void> => logInToDashboard(page, adminPassword);

/** The upstream lab as the walk's upstream form saves it: the real registry, its mirror hostname and CA. */
async function addLab(s: BrowserSetup): Promise<void> {
  const admin = new AdminClient(s.adminUrl);
  assert.equal((await admin.login(adminPassword)).status, 200);
  const lab = await admin.call('POST', '/api/upstreams', { name: 'lab', registry: s.reg.host, url: s.reg.url, hosts: [uiMirrorHost], caPem: s.caPem });
  assert.equal(lab.status, 201, lab.text);
}

describe('an operator walks through every page', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let suite: BrowserSuite | undefined;
  let ui: UiContext;
  let page: Page;

  before(async () => {
    suite = await openBrowserSuite(adminPassword);
    ({ s, browser } = suite);
    // The delete dialog opens on the upstream lab, which the walk (operator-walk.test.ts) adds through the form
    // before its dialog test; here it is added through the admin API, with what that form saves.
    await addLab(s);
    ui = await openUi(browser, s.adminUrl, { viewport: desktop });
    page = ui.page;
    await logIn(page);
  }, { timeout: 240_000 });

  after(async () => {
    await ui?.context.close();
    await suite?.close();
  });

  test('confirm dialogs are centred and fully readable at 1280x800 and on a 390x844 phone', slow, async () => {
    const phoneUi = await openUi(browser, s.adminUrl, { viewport: phone, isMobile: true, hasTouch: true });
    try {
      await logIn(phoneUi.page);
      for (const [size, p] of [['desktop', page], ['phone', phoneUi.page]] as const) {
        await p.goto('/#/upstreams');
        await p.getByTestId('upstream-delete-lab').click();
        await dialogReadable(p, `delete upstream (${size})`);
        await screenshot(p, `walk-${size}-dialog-delete-upstream`);
        await p.getByRole('button', { name: 'Cancel' }).click();
        await p.getByTestId('confirm-dialog').waitFor({ state: 'detached' });
        assert.equal(await p.getByTestId('upstream-row-lab').count(), 1, 'cancel deletes nothing');

        await p.goto('/#/users');
        await p.getByTestId('page-users').waitFor();
        await p.getByLabel('Username').fill(`${size}-user`);
        await p.getByLabel('Password', { exact: true }).fill('a long enough password');
        await p.getByTestId('user-save').click();
        await p.getByTestId(`user-delete-${size}-user`).click();
        await dialogReadable(p, `remove user (${size})`);
        await p.getByTestId('confirm-ok').click();
        await p.getByTestId(`user-row-${size}-user`).waitFor({ state: 'detached' });
      }
    } finally {
      await phoneUi.context.close();
    }
  });
});
