// passthrough mode: every upstream 401 reaches the client with its realm pointing at the mirror's token
// endpoint for that upstream (docs/architecture.md, "Decision: two auth modes per upstream"), service and scope kept.
import { formatChallenge, type Challenge } from './challenge.js';

export function rewriteChallenge(challenge: Challenge, tokenRealm: string): string {
  return formatChallenge({ scheme: 'bearer', params: { ...challenge.params, realm: tokenRealm } });
}

/** `https://mirror.example.com/token/gcr`: absolute, as Docker requires. */
export function tokenRealmFor(baseUrl: string, upstreamName: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/token/${encodeURIComponent(upstreamName)}`;
}
