// What of a client's Authorization may travel to an upstream (passthrough mode): the client's own upstream
// credentials, never the mirror's. A bearer token of the mirror's own token endpoint (`pg1.`, see
// src/access/registry-tokens.ts) and Basic credentials naming one of the mirror's users (`access.login`,
// whatever the password) stay on the mirror: a client logged in to the mirror sends them to every upstream the
// mirror's host name serves, passthrough ones included. docs/security.md, "Mirror and upstream".

/** Whether this user name is one of the mirror's own users. */
export type IsMirrorUser = (username: string) => boolean;

const mirrorTokenPrefix = 'pg1.';

/** A bearer token issued by the mirror's own token endpoint, valid or not. */
export function isMirrorToken(authorization: string | undefined): boolean {
  const bearer = /^Bearer\s+(\S+)/i.exec(authorization?.trim() ?? '')?.[1];
  return bearer !== undefined && bearer.startsWith(mirrorTokenPrefix);
}

/** The user name of Basic credentials ('' when they cannot be read), or undefined when the header is not Basic. */
export function basicUsername(authorization: string | undefined): string | undefined {
  const value = authorization?.trim() ?? '';
  if (!/^Basic(\s|$)/i.test(value)) return undefined;
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value)?.[1];
  if (encoded === undefined) return '';
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

/** The Authorization to forward upstream: the header as sent, or undefined when it is the mirror's own. */
export function forwardableAuthorization(authorization: string | undefined, isMirrorUser: IsMirrorUser): string | undefined {
  if (authorization === undefined || isMirrorToken(authorization)) return undefined;
  const username = basicUsername(authorization);
  // Unreadable Basic credentials cannot be told apart from the mirror's: they stay here too.
  if (username !== undefined && (username === '' || isMirrorUser(username))) return undefined;
  return authorization;
}
