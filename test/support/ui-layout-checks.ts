// Layout checks the admin UI browser tests share: a confirm dialog is centred and readable, an element is on
// screen, and a page is recorded (a screenshot) with nothing scrolling sideways.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { horizontalOverflow, screenshot } from './browser.js';

/** Every element of the open dialog shows its whole text: nothing cut off sideways. */
export async function dialogReadable(page: Page, where: string): Promise<void> {
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor();
  const facts = await dialog.evaluate((d) => {
    const r = d.getBoundingClientRect();
    const clipped = [d, ...d.querySelectorAll('*')]
      .filter((e) => e.scrollWidth > e.clientWidth && e.clientWidth > 0)
      .map((e) => `${e.tagName}: ${e.textContent?.slice(0, 40)}`);
    return {
      clipped,
      left: r.left,
      right: innerWidth - r.right,
      top: r.top,
      bottom: innerHeight - r.bottom,
      titleAlign: getComputedStyle(d.querySelector('h2') as Element).textAlign,
      whiteSpace: getComputedStyle(d.querySelector('.confirm-body p') ?? d).whiteSpace,
    };
  });
  assert.deepEqual(facts.clipped, [], `${where}: text cut off in the dialog`);
  assert.ok(Math.abs(facts.left - facts.right) <= 2, `${where}: not centred sideways (${facts.left} vs ${facts.right})`);
  assert.ok(Math.abs(facts.top - facts.bottom) <= 2, `${where}: not centred vertically (${facts.top} vs ${facts.bottom})`);
  assert.ok(facts.left >= 0 && facts.top >= 0, `${where}: the dialog leaves the screen`);
  assert.match(facts.titleAlign, /^(start|left)$/, `${where}: the title is aligned ${facts.titleAlign}`);
  assert.equal(facts.whiteSpace, 'normal', `${where}: the text does not wrap`);
}

/** The element is on screen now (the page scrolled to it). */
export async function inView(page: Page, testid: string): Promise<void> {
  const box = await page.getByTestId(testid).boundingBox();
  const height = page.viewportSize()?.height ?? 0;
  assert.ok(box && box.y >= 0 && box.y + Math.min(box.height, 60) <= height, `${testid} is not in view: ${JSON.stringify(box)}`);
}

/** Waits for the page's data, saves its screenshot as walk-SIZE-NAME.png and checks it does not scroll sideways. */
export async function shoot(page: Page, name: string, size: 'desktop' | 'phone'): Promise<void> {
  await page.waitForFunction(() => !document.body.innerText.includes('Loading…'));
  await screenshot(page, `walk-${size}-${name}`);
  assert.equal(await horizontalOverflow(page), 0, `${name} scrolls sideways at the ${size} size`);
}
