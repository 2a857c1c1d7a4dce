// The dashboard's cluster card in a real browser (chromium): with two replicas sharing a bucket (radosgw) either
// replica's dashboard lists both, this one marked, with the summed figures; on disk storage there is no card.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { buildWeb } from '../../web/build.js';
import { formatBytes } from '../../web/src/format.js';
import { assertChromium, horizontalOverflow, launchBrowser, openUi, screenshot } from '../support/browser.js';
import { assertInstalled } from '../support/installed-tools.js';
import { startMirror, type TestMirror } from '../support/mirror-app.js';
import { radosgwPrograms } from '../support/radosgw.js';
import { adminPassword, get, startSharedBucketPair, type SharedBucketPair } from '../support/shared-bucket-pair.js';

const requiredPrograms = ['docker-registry', 'skopeo', 'openssl', ...radosgwPrograms];
const slow = { timeout: 120_000 };

async function logIn(page: Page, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Admin password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('page-dashboard').waitFor();
}

test('chromium, docker-registry and radosgw are installed for the cluster card test', async () => {
  await assertChromium();
  await assertInstalled(...requiredPrograms);
});

describe('the dashboard cluster card', () => {
  let pair: SharedBucketPair;
  let disk: TestMirror;
  let browser: Browser;

  before(async () => {
    await assertChromium();
    await assertInstalled(...requiredPrograms);
    await buildWeb();
    pair = await startSharedBucketPair();
    disk = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword });
    browser = await launchBrowser();
  }, { timeout: 240_000 });

  after(async () => {
    await browser?.close();
    await disk?.close();
    await pair?.stop();
  });

  test("either replica's dashboard lists both replicas, this one marked, with the sum of their figures", slow, async () => {
    const { a, b } = pair;
    const { alpine } = pair.fixtures;
    assert.equal((await get(a, `/v2/${alpine.repository}/manifests/${alpine.tag}`)).status, 200);
    for (const [name, replica, other] of [['a', a, b], ['b', b, a]] as const) {
      const { page, context, problems } = await openUi(browser, replica.mirror.adminUrl ?? '', { viewport: { width: 1280, height: 860 } });
      try {
        await logIn(page, adminPassword);
        const card = page.getByTestId('cluster');
        await card.waitFor();
        const rows = card.getByTestId('cluster-replicas').locator('tbody tr');
        assert.equal(await rows.count(), 2);
        const text = await card.innerText();
        assert.match(text, new RegExp(`${replica.id} \\(this one\\)`));
        assert.ok(text.includes(other.id), `the other replica ${other.id} is listed`);
        assert.match(text, /2 replicas sharing the bucket/);
        const view = (await replica.admin.call<{ replicas: Array<{ bytesServed: number; misses: number }> }>('GET', '/api/cluster')).body;
        const foot = card.locator('tfoot');
        assert.match(await foot.innerText(), /All replicas/);
        assert.equal(await foot.locator('[data-label="Served"]').innerText(), formatBytes(view.replicas.reduce((sum, r) => sum + r.bytesServed, 0)));
        assert.equal(await foot.locator('[data-label="Misses"]').innerText(), String(view.replicas.reduce((sum, r) => sum + r.misses, 0)));
        assert.equal(await foot.locator('[data-label="Misses"]').innerText(), '1', 'the one cold pull through A');
        assert.equal(await horizontalOverflow(page), 0);
        await screenshot(page, `cluster-dashboard-${name}`);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    }
  });

  test('a disk-storage dashboard has no cluster card', slow, async () => {
    const { page, context, problems } = await openUi(browser, disk.adminUrl ?? '');
    try {
      await logIn(page, adminPassword);
      // The summary card loads with the same round of requests as the cluster answer.
      await page.getByTestId('stat-size').waitFor();
      const cluster = await page.evaluate(async () => (await fetch('/api/cluster')).json());
      assert.equal((cluster as { shared: boolean }).shared, false);
      assert.equal(await page.getByTestId('cluster').count(), 0);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });
});
