// Hash routing (`#/upstreams`, `#/cache/hub/library%2Falpine`): the admin server serves one index.html, and a
// reload or a bookmark lands on the same page. Segments are percent-encoded, so repositories may contain `/`.
import { useEffect, useState } from 'preact/hooks';

export function currentRoute(): string[] {
  const path = location.hash.replace(/^#\/?/, '');
  return path === '' ? [] : path.split('/').map(decodeSegment);
}

/** A segment as typed: a malformed percent-encoding (`%E0`, from a hand-edited address) is kept as it is. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function href(...segments: string[]): string {
  return `#/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

export function navigate(...segments: string[]): void {
  location.hash = href(...segments);
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = (): void => setRoute(currentRoute());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
