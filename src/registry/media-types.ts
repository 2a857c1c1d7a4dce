// Manifest media types (docs/protocol.md, "Manifests"). Tags are always resolved upstream with all four in Accept.
export const mediaTypes = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export const manifestAccept: readonly string[] = [
  mediaTypes.ociIndex,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifestList,
  mediaTypes.dockerManifest,
];

/** The upstream Accept header for a tag resolution: all four types, so the cache never stores a narrowed answer. */
export const fullManifestAccept = manifestAccept.join(', ');

export function isIndexType(mediaType: string): boolean {
  return mediaType === mediaTypes.ociIndex || mediaType === mediaTypes.dockerManifestList;
}

/** Media type without parameters, lower-cased: `application/json; charset=utf-8` -> `application/json`. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const bare = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return bare ? bare : undefined;
}

/**
 * Splits a client's Accept header(s) into bare media types. Docker sends one Accept line per type and Node joins
 * repeated lines with ", ", so both forms arrive here as one list.
 */
export function parseAccept(accept: string | string[] | undefined): string[] {
  const values = Array.isArray(accept) ? accept : accept ? [accept] : [];
  const types: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const bare = bareMediaType(part);
      if (bare) types.push(bare);
    }
  }
  return types;
}

// Whether a client whose Accept is `accepted` can take a manifest of `mediaType` (a star-slash-star or no Accept takes all).
export function acceptsMediaType(accepted: string[], mediaType: string): boolean {
  if (accepted.length === 0) return true;
  return accepted.some((t) => t === '*/*' || t === 'application/*' || t === mediaType);
}

/** Whether the client's Accept covers all four manifest types, so its answer may be cached as the tag's answer. */
export function coversAllManifestTypes(accepted: string[]): boolean {
  return manifestAccept.every((t) => acceptsMediaType(accepted, t));
}
