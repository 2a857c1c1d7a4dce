// A real browser for the admin UI tests: Debian's chromium, headless, driven by playwright-core (which never
// downloads a browser of its own here). A missing chromium is a failure with the install command, never a skip
// (test/support/installed-tools.ts). Screenshots go to test-artifacts/screenshots/ for a human to look at.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

export const chromiumPath = process.env['PULLGATE_CHROMIUM'] ?? '/usr/bin/chromium';
export const screenshotDir = join(process.cwd(), 'test-artifacts', 'screenshots');

/** Throws when Debian's chromium is not installed, naming the package. */
export async function assertChromium(): Promise<void> {
  const found = await access(chromiumPath, constants.X_OK).then(() => true, () => false);
  if (!found) throw new Error(`chromium is not installed at ${chromiumPath}; install with: apt-get install -y chromium`);
}

// docs/testing.md, "CI and browsers": no sandbox as root, and nothing that reaches for the internet by itself.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

export async function launchBrowser(): Promise<Browser> {
  await assertChromium();
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}

export interface UiContext {
  context: BrowserContext;
  page: Page;
  /**
   * Script errors and console errors, so that a test can assert the UI ran clean. Chromium's own "Failed to load
   * resource" lines are left out: a refused login or a 400 from a form is an expected answer, not a UI fault.
   */
  problems: string[];
}

/** A fresh context (own cookies) on `baseURL`, with clipboard access granted for the copy buttons. */
export async function openUi(browser: Browser, baseURL: string, options: BrowserContextOptions = {}): Promise<UiContext> {
  const context = await browser.newContext({ baseURL, ...options });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return { context, page, problems };
}

/** A full-page PNG named `<name>.png` under test-artifacts/screenshots/; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  // Let fonts, layout and the chart's ResizeObserver settle before the picture.
  await page.evaluate(() => document.fonts.ready);
  // From the top: a full-page picture taken while scrolled shows the sticky header in the middle of the page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}

/** How far the page scrolls sideways: 0 when nothing overflows the viewport. */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
