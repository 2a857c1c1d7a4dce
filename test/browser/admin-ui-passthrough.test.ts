// TLS passthrough routes in the admin UI in a real browser (Debian's chromium through playwright-core) against a
// real mirror: a route added (its mistakes named next to their fields), used by a real TLS client whose connection
// the page counts, and deleted; the config file's route stays read-only. Screenshots land in
// test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { Browser } from 'playwright-core';
import { openUi, screenshot } from '../support/browser.js';
import { configRoute, openBrowserSuite, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { startTlsEcho } from '../support/passthrough-backends.js';
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
});
