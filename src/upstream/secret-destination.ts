// Where a stored upstream password may be sent (docs/security.md, "Operator and admin"). A password saved through
// the admin is write-only: an edit or a test that leaves it out reuses it, but only towards the places it was
// saved for. Settings that would send it to another origin (scheme, host or port), to a mirror not listed before,
// through another proxy, past a TLS check that was on, or trusting a CA bundle not saved with it, need the password
// given again.

export interface SecretDestinationSettings {
  url: string;
  mirrors?: readonly string[];
  proxy?: string | undefined;
  insecureSkipVerify?: boolean;
}

const origin = (url: string): string => new URL(url).origin;

/** Why `next` would send the password stored with `saved` somewhere it was not saved for, or undefined. */
export function newSecretDestination(saved: SecretDestinationSettings, next: SecretDestinationSettings, caChanged: boolean): string | undefined {
  if (origin(next.url) !== origin(saved.url)) return `the address changed from ${origin(saved.url)} to ${origin(next.url)}`;
  const known = new Set([origin(saved.url), ...(saved.mirrors ?? []).map(origin)]);
  const added = (next.mirrors ?? []).map(origin).find((m) => !known.has(m));
  if (added) return `a mirror was added (${added})`;
  if ((next.proxy ?? '') !== (saved.proxy ?? '')) return 'the proxy changed';
  if (next.insecureSkipVerify && !saved.insecureSkipVerify) return 'TLS verification was turned off';
  if (caChanged) return 'another CA bundle was given';
  return undefined;
}

/** The URL as shown: user-info (a credential) removed. */
export function shownUrl(url: URL | string): string {
  const u = new URL(String(url));
  u.username = '';
  u.password = '';
  return u.href.replace(/\/$/, '');
}
