// tags/list and referrers: passed through, with `Link` rewritten to a mirror-relative URL (docs/protocol.md,
// "Tags, catalog and referrers"), always as JSON with nosniff whatever the upstream claimed (docs/security.md,
// "Mirror and upstream").
import { RegistryError } from '../registry/errors.js';
import type { Digest } from '../registry/digest.js';
import { isTag } from '../registry/names.js';
import type { PullContext, RegistryReply } from './reply.js';
import { readCapped } from '../upstream/capped-body.js';
import { upstreamFailure } from './upstream-failure.js';

const maxListingBytes = 16 * 1024 * 1024;
const maxPageSize = 10_000;

export interface TagsRequest {
  n?: string;
  last?: string;
}

export async function listTags(ctx: PullContext, req: TagsRequest): Promise<RegistryReply> {
  const query = new URLSearchParams();
  if (req.n !== undefined) {
    if (!/^\d{1,6}$/.test(req.n) || Number(req.n) > maxPageSize) {
      throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be an integer from 0 to ${maxPageSize}`);
    }
    // OCI "Listing Tags": n=0 is an empty list without Link; no need to ask the upstream.
    if (Number(req.n) === 0) return json(200, { name: ctx.clientPath, tags: [] });
    query.set('n', req.n);
  }
  if (req.last !== undefined) {
    if (!isTag(req.last)) throw new RegistryError('TAG_INVALID', 'last must be a tag');
    query.set('last', req.last);
  }
  return passThrough(ctx, `/v2/${ctx.repository}/tags/list`, query, 'NAME_UNKNOWN', 'tags/list');
}

export async function listReferrers(ctx: PullContext, digest: Digest, artifactType: string | undefined): Promise<RegistryReply> {
  const query = new URLSearchParams();
  if (artifactType !== undefined) {
    if (!/^[a-zA-Z0-9][\w.+/-]{0,254}$/.test(artifactType)) throw new RegistryError('REQUEST_INVALID', 'invalid artifactType');
    query.set('artifactType', artifactType);
  }
  // An upstream without the referrers API answers 404 and the client falls back to the tag schema.
  return passThrough(ctx, `/v2/${ctx.repository}/referrers/${digest}`, query, 'MANIFEST_UNKNOWN', 'referrers');
}

async function passThrough(
  ctx: PullContext,
  path: string,
  query: URLSearchParams,
  notFound: 'NAME_UNKNOWN' | 'MANIFEST_UNKNOWN',
  what: 'tags/list' | 'referrers',
): Promise<RegistryReply> {
  const started = Date.now();
  const res = await ctx.upstream.fetch({
    method: 'GET',
    path,
    query,
    headers: { accept: 'application/json, application/vnd.oci.image.index.v1+json' },
    repository: ctx.repository,
    ...(ctx.clientAuthorization ? { clientAuthorization: ctx.clientAuthorization } : {}),
    signal: ctx.signal,
  });
  ctx.log.upstreamStatus = res.status;
  ctx.log.upstreamMs = Date.now() - started;
  if (res.status !== 200) throw await upstreamFailure(res, ctx, notFound);
  const body = await readCapped(res.body, maxListingBytes, `upstream ${what}`, res.headers['content-length']);
  if (!isJsonObject(body)) throw new RegistryError('UPSTREAM_INVALID', `upstream ${ctx.upstream.name} sent a ${what} answer that is not a JSON object`);
  // Sent as the JSON type the API names, whatever type the upstream claimed, so that no browser renders it.
  const headers: Record<string, string> = { ...jsonHeaders(what === 'tags/list' ? 'application/json' : ociIndex), 'content-length': String(body.length) };
  const link = mirrorLink(res.headers.link, ctx, what);
  if (link) headers.link = link;
  const filters = res.headers['oci-filters-applied'];
  if (typeof filters === 'string') headers['oci-filters-applied'] = filters;
  return { status: 200, headers, body };
}

/** `<https://upstream/v2/library/x/tags/list?n=2&last=b>; rel="next"` -> `</v2/x/tags/list?n=2&last=b&ns=...>; rel="next"`. */
export function mirrorLink(link: string | string[] | undefined, ctx: PullContext, what: 'tags/list' | 'referrers'): string | undefined {
  const value = Array.isArray(link) ? link[0] : link;
  if (!value) return undefined;
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(value);
  if (!m) return undefined;
  let upstreamUrl: URL;
  try {
    upstreamUrl = new URL(m[1]!, ctx.upstream.config.url);
  } catch {
    return undefined;
  }
  const query = new URLSearchParams();
  for (const key of ['n', 'last', 'artifactType']) {
    const v = upstreamUrl.searchParams.get(key);
    if (v !== null) query.set(key, v);
  }
  if (ctx.ns !== undefined) query.set('ns', ctx.ns);
  const referrers = upstreamUrl.pathname.indexOf('/referrers/');
  // A next page that is not a referrers URL would send the client to a path that is no endpoint: no link then.
  if (what === 'referrers' && referrers === -1) return undefined;
  const suffix = what === 'tags/list' ? 'tags/list' : upstreamUrl.pathname.slice(referrers + 1);
  return `</v2/${ctx.clientPath}/${suffix}?${query.toString()}>; rel="next"`;
}

function json(status: number, value: unknown): RegistryReply {
  const body = Buffer.from(JSON.stringify(value));
  return { status, headers: { ...jsonHeaders('application/json'), 'content-length': String(body.length) }, body };
}

/** OCI distribution-spec "Listing Referrers": the answer is an image index. */
const ociIndex = 'application/vnd.oci.image.index.v1+json';

const jsonHeaders = (type: string): Record<string, string> => ({ 'content-type': type, 'x-content-type-options': 'nosniff' });

function isJsonObject(body: Buffer): boolean {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
