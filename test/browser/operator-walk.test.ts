// The admin UI walked through as an operator would, in a real browser (Debian's chromium through playwright-core)
// against a real mirror and a real upstream (test/support/browser-setup.ts): every change shows at once with its row
// in view; Saved counts cache hits and a prefetch does not move it; the traffic chart's short ranges are per minute,
// with a unit and two colours; each upstream has one status in words; prefetch jobs say partial, can be cancelled
// and retried; the cache explorer refuses what does not exist, searches, sorts and opens an image whose parts add
// up; the dashboard strip; the audit log. The setup page is walked in operator-walk-setup.test.ts, the confirm
// dialogs in operator-walk-dialogs.test.ts. Screenshots of every page at both sizes land in
// test-artifacts/screenshots/walk-*.png.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { formatBytes } from '../../web/src/format.js';
import { openUi, screenshot, type UiContext } from '../support/browser.js';
import { configUpstream, openBrowserSuite, uiMirrorHost, type BrowserSetup, type BrowserSuite } from '../support/browser-setup.js';
import { skopeo } from '../support/skopeo.js';
import { dialogReadable, inView, shoot } from '../support/ui-layout-checks.js';
import { logInToDashboard } from '../support/ui-login.js';

const adminPassword = 'walk through every page';
const slow = { timeout: 240_000 };
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

/** Signs in on the page and waits for the dashboard. */
const logIn = (page: Page): Promise<void> => logInToDashboard(page, adminPassword);

/** Starts the prefetch typed in the form and waits for its job to be listed (first, newest). */
async function startPrefetch(page: Page): Promise<void> {
  const before = await page.getByTestId('prefetch-job').count();
  await page.getByTestId('prefetch-start').click();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="prefetch-job"]').length === n + 1, before);
}

describe('an operator walks through every page', () => {
  let s: BrowserSetup;
  let browser: Browser;
  let suite: BrowserSuite | undefined;
  let work: string;
  let ui: UiContext;
  let page: Page;

  before(async () => {
    suite = await openBrowserSuite(adminPassword);
    ({ s, browser } = suite);
    work = await mkdtemp(join(tmpdir(), 'pullgate-walk-'));
    ui = await openUi(browser, s.adminUrl, { viewport: desktop });
    page = ui.page;
    await logIn(page);
  }, { timeout: 240_000 });

  after(async () => {
    await ui?.context.close();
    await suite?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('a new upstream is in the list right after saving, in view, and its edit page opens at once; a test result sits next to its row', slow, async () => {
    await page.goto('/#/upstreams/new');
    await page.getByTestId('page-upstream-form').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('lab');
    await page.getByLabel('Registry name').fill(s.reg.host);
    await page.getByLabel('URL', { exact: true }).fill(s.reg.url);
    await page.getByLabel('Mirror hostnames').fill(uiMirrorHost);
    await page.getByLabel('Extra CA certificates (PEM)').fill(s.caPem);
    await page.getByTestId('upstream-save').click();
    // No refresh, no reload: the row is there when the message is.
    await page.getByTestId('notice').waitFor();
    assert.match(await page.getByTestId('notice').innerText(), /Upstream lab added\./);
    await page.getByTestId('upstream-row-lab').waitFor({ timeout: 2000 });
    await page.waitForSelector('[data-row-key="upstream-lab"][data-revealed="true"]');
    await inView(page, 'upstream-row-lab');
    await page.getByTestId('upstream-edit-lab').click();
    await page.getByTestId('upstream-form').waitFor({ timeout: 2000 });
    assert.equal(await page.getByTestId('upstream-missing').count(), 0);
    await page.goto('/#/upstreams');

    // The config-file upstream: its on/off is a read-only state, not a switch that only refuses.
    assert.equal(await page.getByTestId(`upstream-toggle-${configUpstream.name}`).count(), 0);
    assert.match(await page.getByTestId(`upstream-enabled-${configUpstream.name}`).innerText(), /on \(config file\)/);
    // Testing it fails; the result sits right under its row, and its status now says why, in words.
    await page.getByTestId(`upstream-test-${configUpstream.name}`).click();
    const result = page.getByTestId(`upstream-test-result-${configUpstream.name}`);
    await result.waitFor({ timeout: 30_000 });
    assert.equal(
      await page.getByTestId(`upstream-row-${configUpstream.name}`).evaluate((row) => row.nextElementSibling?.getAttribute('data-testid')),
      `upstream-test-result-${configUpstream.name}`,
    );
    assert.equal(await result.getByTestId('test-result').getAttribute('data-ok'), 'false');
    // Every row's actions are on screen, not behind the table's sideways scroll.
    const hidden = await page.getByTestId('upstream-table').evaluate((table) => {
      const wrap = (table.parentElement as HTMLElement).getBoundingClientRect();
      return [...table.querySelectorAll('.actions-cell .button')].filter((b) => b.getBoundingClientRect().right > wrap.right + 1).map((b) => b.textContent);
    });
    assert.deepEqual(hidden, []);
    await shoot(page, 'upstreams-test', 'desktop');
  });

  test('Saved counts the bytes served from the cache; a prefetch leaves it alone and is shown on its own; the chart is per minute in two colours', slow, async () => {
    const { app, alpine } = s.fixtures;
    // Pulled twice: the first from the upstream, the second from the cache.
    for (const n of [1, 2]) {
      await skopeo(['copy', '--quiet', '--src-no-creds', '--src-cert-dir', s.reg.ca.certDir, `docker://${s.mirrorAt}/${app.repository}:${app.tag}`, `dir:${join(work, `app-${n}`)}`]);
    }
    type Totals = { bytesServed: number; bytesSaved: number; bytesPrefetched: number; hits: number };
    const totals = async (): Promise<Totals> => ((await (await page.request.get('/api/cache/summary')).json()) as { traffic: Totals }).traffic;
    let before = await totals();
    // The second pull is four hits (manifest, config, two layers), counted as each response ends.
    for (let i = 0; i < 50 && before.hits < 4; i++) {
      await new Promise((r) => setTimeout(r, 100));
      before = await totals();
    }
    assert.ok(before.bytesSaved > 0 && before.bytesSaved < before.bytesServed, JSON.stringify(before));
    await page.goto('/');
    await page.getByTestId('stat-saved').waitFor();
    assert.equal(await page.getByTestId('stat-saved').locator('.stat-value').innerText(), formatBytes(before.bytesSaved));

    // Prefetch an image the cache has not got, through the new upstream (its registry name as the prefix).
    await page.goto('/#/prefetch');
    await page.getByLabel('Images').fill(`${s.reg.host}/${alpine.repository}:${alpine.tag}`);
    await startPrefetch(page);
    const job = page.getByTestId('prefetch-job').first();
    await page.waitForFunction(() => document.querySelector('[data-testid="prefetch-job"]')?.getAttribute('data-state') !== 'running', undefined, { timeout: 60_000 });
    assert.equal(await job.getAttribute('data-state'), 'done');
    const after = await totals();
    assert.equal(after.bytesSaved, before.bytesSaved, 'a prefetch serves nobody: Saved does not move');
    assert.ok(after.bytesPrefetched - before.bytesPrefetched > 1024 * 1024, JSON.stringify(after));
    await page.goto('/');
    await page.getByTestId('stat-prefetched').waitFor();
    assert.equal(await page.getByTestId('stat-saved').locator('.stat-value').innerText(), formatBytes(before.bytesSaved));
    assert.equal(await page.getByTestId('stat-prefetched').locator('.stat-value').innerText(), formatBytes(after.bytesPrefetched));

    // The last hour: one point per minute, the unit said, served and fetched in colours of their own.
    await page.getByRole('button', { name: '1 h' }).click();
    const chart = page.getByTestId('traffic-chart');
    await page.waitForFunction(() => document.querySelector('[data-testid="traffic-chart"]')?.getAttribute('data-unit') === 'per minute');
    assert.equal(await chart.getByTestId('chart-unit').textContent(), 'per minute');
    const colours = await chart.evaluate((c) => ({
      served: getComputedStyle(c.querySelector('.line.served') as Element).stroke,
      fetched: getComputedStyle(c.querySelector('.line.fetched') as Element).stroke,
      fetchedFill: getComputedStyle(c.querySelector('.line.fetched') as Element).fill,
    }));
    assert.notEqual(colours.served, colours.fetched);
    assert.equal(colours.fetchedFill, 'none', 'fetched is a line over the served area, not a second translucent area');
    const series = (await (await page.request.get('/api/cache/traffic?hours=1')).json()) as { bucketMs: number; points: unknown[] };
    assert.deepEqual([series.bucketMs, series.points.length], [60_000, 60]);
    await page.getByRole('button', { name: '24 h' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="traffic-chart"]')?.getAttribute('data-unit') === 'per 5 minutes');
    await page.getByRole('button', { name: '1 h' }).click();
    await shoot(page, 'dashboard', 'desktop');
  });

  test('prefetch: a job with one image of two done is partly done, the failure names the upstream, queued images draw no progress, and it can be retried and cancelled', slow, async () => {
    const { multi } = s.fixtures;
    await page.goto('/#/prefetch');
    const long = `${s.reg.host}/library/no-such-image-with-a-rather-long-name:1.0`;
    await page.getByLabel('Images').fill(`${s.reg.host}/${multi.repository}:${multi.tag}\n${long}`);
    await startPrefetch(page);
    const job = page.getByTestId('prefetch-job').first();
    await page.waitForFunction(() => document.querySelector('[data-testid="prefetch-job"]')?.getAttribute('data-state') !== 'running', undefined, { timeout: 60_000 });
    assert.equal(await job.getAttribute('data-state'), 'partial');
    assert.equal(await job.getByTestId('prefetch-job-state').innerText(), 'partly done');
    const failed = job.locator('[data-testid="prefetch-image"][data-state="failed"]');
    assert.match(await failed.locator('.field-error').innerText(), /^lab \(127\.0\.0\.1:\d+\), repository library\/no-such-image-with-a-rather-long-name: /);
    // The name is whole: nothing cut off with room to spare.
    assert.equal(await failed.getByTestId('prefetch-image-name').evaluate((e) => e.scrollWidth <= e.clientWidth), true);
    assert.equal(await failed.getByTestId('prefetch-image-name').innerText(), long);
    await shoot(page, 'prefetch', 'desktop');

    // Retry: a new job with only the failed image.
    const jobsBefore = await page.getByTestId('prefetch-job').count();
    await job.getByTestId('prefetch-retry').click();
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="prefetch-job"]').length === n + 1, jobsBefore);
    const retried = page.getByTestId('prefetch-job').first();
    assert.deepEqual(await retried.getByTestId('prefetch-image-name').allInnerTexts(), [long]);

    // Cancel: an upstream that accepts connections and never answers keeps the first image fetching, so the other
    // two stay queued (and draw no progress bar) until the job is cancelled.
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const { csrfToken } = (await (await page.request.get('/api/session')).json()) as { csrfToken: string };
      const added = await page.request.post('/api/upstreams', {
        headers: { 'x-csrf-token': csrfToken },
        data: { name: 'silent', registry: 'silent.pullgate.test', url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, retries: { attempts: 1 } },
      });
      assert.equal(added.status(), 201, await added.text());
      await page.getByLabel('Images').fill([1, 2, 3].map((n) => `silent.pullgate.test/library/app-${n}:1`).join('\n'));
      await startPrefetch(page);
      await page.waitForFunction(() => document.querySelector('[data-testid="prefetch-job"] [data-state="running"]'));
      const third = page.getByTestId('prefetch-job').first();
      assert.equal(await third.getAttribute('data-state'), 'running');
      const queued = third.locator('[data-testid="prefetch-image"][data-state="queued"]');
      assert.equal(await queued.count(), 2);
      assert.equal(await queued.locator('[role="progressbar"]').count(), 0, 'a queued image draws no progress');
      await third.getByTestId('prefetch-cancel').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="prefetch-job"]')?.getAttribute('data-state') === 'cancelled');
      assert.deepEqual(await third.getByTestId('prefetch-image').evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), ['cancelled', 'cancelled', 'cancelled']);
      assert.equal(await third.getByTestId('prefetch-retry').innerText(), 'Retry 3 images');
      await shoot(page, 'prefetch-cancelled', 'desktop');
      const removed = await page.request.delete('/api/upstreams/silent', { headers: { 'x-csrf-token': csrfToken } });
      assert.equal(removed.status(), 204);
    } finally {
      silent.close();
      for (const socket of held) socket.destroy();
    }
  });

  test('the cache explorer: unknown upstreams, pins and pages are refused in words; search, sort and sizes; the image page adds up; messages name the image the same way', slow, async () => {
    const { app } = s.fixtures;
    await page.goto('/#/cache/nosuch');
    assert.match(await page.getByTestId('repositories-error').innerText(), /no upstream named nosuch/);
    assert.equal(await page.getByTestId('no-repositories').count(), 0, 'not "nothing cached"');
    await page.goto('/#/nosuchpage');
    await page.getByTestId('page-not-found').waitFor();
    assert.equal(await page.getByTestId('page-dashboard').count(), 0);

    // A pin for an upstream that does not exist is refused next to the field.
    await page.goto('/#/cache');
    await page.getByLabel('New pin').fill('nosuch/library/alpine');
    await page.getByTestId('pin-add').click();
    assert.match(await page.getByTestId('error-pin-pin').innerText(), /no upstream named nosuch/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pin-pin');

    // Sizes per upstream and the disk's used and free space.
    const summary = (await (await page.request.get('/api/cache/summary')).json()) as { upstreams: { name: string; size: number }[]; disk: { free: number } };
    const labSize = summary.upstreams.find((u) => u.name === 'lab')?.size ?? 0;
    assert.ok(labSize > 0);
    assert.equal(await page.locator('[data-row-key="cache-upstream-lab"] td[data-label="Size"]').getAttribute('data-bytes'), String(labSize));
    assert.match(await page.getByTestId('cache-disk').innerText(), new RegExp(`${formatBytes(summary.disk.free).replace('.', '\\.')} free`));
    await shoot(page, 'cache', 'desktop');

    // Search narrows, sort orders.
    await page.getByTestId('cache-upstream-lab').click();
    const rows = page.getByTestId('repository-row');
    await rows.first().waitFor();
    const all = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-repository')));
    assert.ok(all.length >= 3, all.join());
    await page.getByTestId('sort-size').click();
    const sizes = await rows.evaluateAll((els) => els.map((e) => Number(e.querySelector('[data-bytes]')?.getAttribute('data-bytes'))));
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), 'largest first');
    await page.getByTestId('sort-size').click();
    const ascending = await rows.evaluateAll((els) => els.map((e) => Number(e.querySelector('[data-bytes]')?.getAttribute('data-bytes'))));
    assert.deepEqual(ascending, [...sizes].reverse());
    await page.getByTestId('cache-repository-search').fill('team');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-repository'))), [app.repository]);
    await shoot(page, 'cache-repositories', 'desktop');

    // The image page: tags, full digest, pull commands through the mirror, parts that add up to the image's size.
    await page.getByTestId(`cache-repository-${app.repository}`).click();
    await page.getByTestId(`image-${app.digest}`).getByTestId('image-digest').click();
    const imagePage = page.getByTestId('image-page');
    await imagePage.waitFor();
    assert.equal(await page.getByTestId('image-full-digest').innerText(), app.digest);
    const size = Number(await imagePage.getAttribute('data-size'));
    const parts = await page.getByTestId('image-part').evaluateAll((els) => els.map((e) => [e.getAttribute('data-kind'), e.getAttribute('data-bytes')]));
    assert.ok(parts.filter(([k]) => k === 'layer').length >= 2, JSON.stringify(parts));
    assert.equal(parts.reduce((sum, [, b]) => sum + Number(b), 0), size, 'the parts add up to the image');
    assert.equal(await page.getByTestId('image-parts-total').innerText(), formatBytes(size));
    assert.match(await page.getByTestId('pull-docker').innerText(), new RegExp(`docker pull ${uiMirrorHost}:${s.httpsPort}/${app.repository}:${app.tag}`));
    assert.match(await page.getByTestId('image-pulls').innerText(), /^\d+$/);
    await page.getByTestId('image-digest-copy').click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), app.digest);
    await shoot(page, 'image', 'desktop');

    // One name for the image everywhere: the pin message, the purge dialog and the purge message.
    const name = `lab/${app.repository}:${app.tag}`;
    await page.getByTestId('image-pin').click();
    await page.waitForFunction((n) => document.querySelector('[data-testid="notice"]')?.textContent?.includes(`Pinned ${n}.`), name);
    await page.getByTestId('image-purge').click();
    await dialogReadable(page, 'purge image');
    assert.equal(await page.locator('#confirm-title').innerText(), `Purge ${name}?`);
    await screenshot(page, 'walk-desktop-dialog-purge');
    await page.getByTestId('confirm-ok').click();
    await page.waitForFunction((n) => document.querySelector('[data-testid="notice"]')?.textContent?.startsWith(`Purged ${n}: `), name);
    await page.getByTestId('no-images').waitFor();
  });

  test('the dashboard strip shows each upstream with its status and hit ratio; the audit log lists what was done, by whom', slow, async () => {
    await page.goto('/');
    const strip = page.getByTestId('upstream-strip');
    await strip.waitFor();
    assert.equal(await page.getByTestId('strip-lab').getAttribute('data-state'), 'up');
    assert.match(await page.getByTestId('strip-lab').innerText(), /lab\s+up/);
    assert.match(await page.getByTestId('strip-hit-lab').innerText(), /^\d+(\.\d)? %$/);
    // Its test failed (the test of a saved upstream is news about its health): down, in words.
    assert.equal(await page.getByTestId(`strip-${configUpstream.name}`).getAttribute('data-state'), 'down');

    // An upstream that sends Docker Hub's rate limit headers: its tile says how many pulls are left, and over what.
    const limited = createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' });
      res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    }).listen(0, '127.0.0.1');
    await once(limited, 'listening');
    try {
      const { csrfToken } = (await (await page.request.get('/api/session')).json()) as { csrfToken: string };
      const headers = { 'x-csrf-token': csrfToken };
      const url = `http://127.0.0.1:${(limited.address() as AddressInfo).port}`;
      assert.equal((await page.request.post('/api/upstreams', { headers, data: { name: 'limited', registry: 'limited.pullgate.test', url } })).status(), 201);
      const job = (await (await page.request.post('/api/prefetch', { headers, data: { images: ['limited.pullgate.test/library/x:1'] } })).json()) as { id: string };
      for (let i = 0; i < 100; i++) {
        const state = ((await (await page.request.get(`/api/prefetch/${job.id}`)).json()) as { state: string }).state;
        if (state !== 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await page.reload();
      await page.getByTestId('strip-ratelimit-limited').waitFor();
      assert.equal(await page.getByTestId('strip-ratelimit-limited').innerText(), '76 of 100 pulls left per 6 h');
      await shoot(page, 'dashboard-strip', 'desktop');
      assert.equal((await page.request.delete('/api/upstreams/limited', { headers })).status(), 204);
    } finally {
      limited.close();
      limited.closeAllConnections();
    }

    await page.goto('/#/audit');
    const entries = page.getByTestId('audit-entry');
    await entries.first().waitFor();
    const actions = await entries.evaluateAll((els) => els.map((e) => [e.getAttribute('data-action'), e.getAttribute('data-outcome'), e.getAttribute('data-via')]));
    assert.ok(actions.some(([a, o, v]) => a === 'POST /api/upstreams' && o === 'ok' && v === 'session'), JSON.stringify(actions));
    assert.ok(actions.some(([a, o]) => a === 'POST /api/cache/pins' && o === 'VALIDATION'), 'a refused change is recorded too');
    assert.ok(actions.some(([a]) => a === 'POST /api/cache/purge'));
    const added = page.locator('[data-testid="audit-entry"][data-action="POST /api/upstreams"]').last();
    assert.match(await added.innerText(), /admin[\s\S]*login session · 127\.0\.0\.1[\s\S]*lab/);
    assert.ok(!(await page.getByTestId('audit-table').innerText()).includes('BEGIN CERTIFICATE'), 'the CA text is left out of the log');
    await shoot(page, 'audit', 'desktop');
    assert.deepEqual(ui.problems, []);
  });

  test('every page at both sizes: compact lists on the phone, no sideways scrolling; a change on the phone brings its row into view', slow, async () => {
    const phoneUi = await openUi(browser, s.adminUrl, { viewport: phone, isMobile: true, hasTouch: true });
    try {
      const p = phoneUi.page;
      await logIn(p);
      const { multi } = s.fixtures;
      const image = (await (await p.request.get(`/api/cache/images?upstream=lab&repository=${encodeURIComponent(multi.repository)}`)).json()) as { images: { digest: string }[] };
      const routes = [
        '',
        'upstreams',
        'upstreams/new',
        'cache',
        'cache/lab',
        `cache/lab/${encodeURIComponent(multi.repository)}`,
        `cache/lab/${encodeURIComponent(multi.repository)}/${image.images[0]?.digest ?? ''}`,
        'prefetch',
        'users',
        'passthrough',
        'setup',
        'audit',
        'no-such-page',
      ];
      for (const [size, at] of [['phone', p], ['desktop', page]] as const) {
        for (const route of routes) {
          await at.goto(`/#/${route}`);
          await at.waitForSelector('[data-testid^="page-"]');
          const name = route.includes('sha256') ? 'image' : route.replace(/%2F/g, '_').replace(/\//g, '-') || 'dashboard';
          await shoot(at, `page-${name}`, size);
        }
      }
      // The dashboard's lists are compact: a latest-requests row is a few lines, not one line per column.
      await p.goto('/');
      await p.getByTestId('requests').waitFor();
      const rowHeight = await p.getByTestId('requests').locator('tbody tr').first().evaluate((r) => r.getBoundingClientRect().height);
      assert.ok(rowHeight < 110, `a request takes ${rowHeight}px on the phone`);
      await p.goto('/#/audit');
      const entryHeight = await p.getByTestId('audit-entry').first().evaluate((r) => r.getBoundingClientRect().height);
      assert.ok(entryHeight < 150, `an audit entry takes ${entryHeight}px on the phone`);

      // An upstream added on the phone: the list shows it, scrolled to it.
      await p.goto('/#/upstreams/new');
      await p.getByLabel('Name', { exact: true }).fill('zz-phone');
      await p.getByLabel('Registry name').fill('zz.pullgate.test');
      await p.getByLabel('URL', { exact: true }).fill('https://zz.pullgate.test');
      await p.getByTestId('upstream-save').click();
      await p.waitForSelector('[data-row-key="upstream-zz-phone"][data-revealed="true"]');
      await inView(p, 'upstream-row-zz-phone');
      await screenshot(p, 'walk-phone-upstreams-added');
      assert.deepEqual(phoneUi.problems, []);
    } finally {
      await phoneUi.context.close();
    }
  });
});
