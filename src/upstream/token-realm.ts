// Where a token request may go (docs/security.md, "Mirror and upstream"): the realm a challenge named, as an
// absolute http(s) URL, and https whenever the URL that announced it is https, so that credentials and tokens
// never leave an https upstream over plain http. Its address is then judged by the same private-address guard
// as redirects (UpstreamEndpoint.dispatcherFor), unless the upstream is itself private.
import { RegistryError } from '../registry/errors.js';

export function checkedRealm(realm: string, announcedBy: URL): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryError('UPSTREAM_INVALID', 'upstream announced an invalid token realm');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryError('UPSTREAM_INVALID', 'upstream announced a token realm that is not http(s)');
  }
  if (announcedBy.protocol === 'https:' && url.protocol !== 'https:') {
    throw new RegistryError('UPSTREAM_INVALID', `${announcedBy.host} announced the plain-http token realm ${url.host}: no credentials or tokens are sent over plain http`, {
      detail: { realm: url.host, refused: 'plain-http' },
    });
  }
  return url;
}
