// The setup page walked through as an operator would, in a real browser (Debian's chromium through playwright-core)
// against a real mirror (test/support/browser-setup.ts): it proposes a real name, warns on loopback and has CA lines
// per client. Screenshots land in test-artifacts/screenshots/walk-*.png.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { openUi, type UiContext } from '../support/browser.js';
import { openBrowserSuite, rootMirrorHost, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { shoot } from '../support/ui-layout-checks.js';
import { logInToDashboard } from '../support/ui-login.js';

const adminPassword = 'walk through every page';
const slow = { timeout: 240_000 };
const desktop = { width: 1280, height: 800 };

/** Signs in on the page and waits for the dashboard. */
const logIn = (page: Page): Promise<void> => logInToDashboard(page, adminPassword);

describe('an operator walks through every page', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let suite: BrowserSuite | undefined;
  let ui: UiContext;
  let page: Page;

  before(async () => {
    suite = await openBrowserSuite(adminPassword);
    ({ s, browser } = suite);
    ui = await openUi(browser, s.adminUrl, { viewport: desktop });
    page = ui.page;
    await logIn(page);
  }, { timeout: 240_000 });

  after(async () => {
    await ui?.context.close();
    await suite?.close();
  });

  test('setup proposes the name on the certificate, warns on a loopback address, and has CA-trust lines for each client', slow, async () => {
    await page.goto('/#/setup');
    await page.getByTestId('page-setup').waitFor();
    const address = page.getByLabel('Mirror address');
    await page.waitForFunction(() => (document.getElementById('setup-mirror') as HTMLInputElement | null)?.value !== '');
    // No publicUrl: the certificate's own name (not an upstream's mapped host), on the HTTPS port.
    assert.equal(await address.inputValue(), `https://${rootMirrorHost}:${s.httpsPort}`);
    assert.match(await page.getByTestId('page-setup').innerText(), /Proposed from a name the mirror’s TLS certificate covers/);
    // The listener itself binds loopback: said in words.
    assert.match(await page.getByTestId('setup-warnings').innerText(), /listener binds 127\.0\.0\.1:\d+, a loopback address/);
    await shoot(page, 'setup', 'desktop');

    // Organised by client, one at a time, each with its CA lines (the mirror's certificate is from a private CA).
    assert.equal(await page.getByTestId('tab-docker').getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByTestId('client-podman').isVisible(), false, 'one client at a time');
    const docker = await page.getByTestId('client-docker').getByTestId('snippet-trust-ca-docker').locator('pre').innerText();
    assert.ok(docker.includes(`/etc/docker/certs.d/${rootMirrorHost}:${s.httpsPort}/ca.crt`), docker);
    await page.getByTestId('tab-podman').click();
    const podman = await page.getByTestId('client-podman').getByTestId('snippet-trust-ca-podman').locator('pre').innerText();
    assert.ok(podman.includes(`/etc/containers/certs.d/${rootMirrorHost}:${s.httpsPort}/ca.crt`), podman);
    await page.getByTestId('tab-any').click();
    assert.match(await page.getByTestId('client-any').getByTestId('snippet-trust-ca-system').innerText(), /update-ca-certificates/);
    await page.getByTestId('tab-containerd').click();
    const hostsToml = await page.getByTestId('client-containerd').locator('[data-file$="hosts.toml"]').first().locator('pre').innerText();
    assert.match(hostsToml, /ca = "\/usr\/local\/share\/ca-certificates\/pullgate-ca\.crt"/);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    assert.ok(height < 2600, `the setup page is ${height}px tall`);

    // A loopback address typed in: warned, in words, before anyone copies it.
    await address.fill(`https://127.0.0.1:${s.httpsPort}`);
    await page.getByRole('button', { name: 'Update snippets' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="setup-warnings"]')?.textContent?.includes('127.0.0.1 is a loopback address'));
    await shoot(page, 'setup-loopback', 'desktop');
  });
});
