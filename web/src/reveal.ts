// Brings a changed row into view: waits (a few frames at most) for the element with `data-row-key` to be rendered,
// scrolls it to the middle of the screen and marks it for a moment, so the user sees what the action changed.
let pending = 0;

export function revealRow(key: string): void {
  const attempt = ++pending;
  let frames = 0;
  const tryNow = (): void => {
    if (attempt !== pending) return;
    const el = [...document.querySelectorAll<HTMLElement>('[data-row-key]')].find((e) => e.dataset['rowKey'] === key);
    if (!el) {
      if (++frames < 60) requestAnimationFrame(tryNow);
      return;
    }
    // The window scrolls, never a table's own sideways scroll (a wide row would push its first columns out of view).
    const rect = el.getBoundingClientRect();
    const middle = Math.min(rect.height, innerHeight) / 2;
    window.scrollTo({ top: Math.max(0, scrollY + rect.top - innerHeight / 2 + middle), behavior: 'instant' });
    el.classList.remove('just-changed');
    void el.offsetWidth;
    el.classList.add('just-changed');
    el.dataset['revealed'] = 'true';
  };
  requestAnimationFrame(tryNow);
}
