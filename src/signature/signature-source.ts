// What the signature checks need of an upstream registry: manifests by tag or digest, the referrers API and
// small blobs. The mirror adapts its upstream to this; tests serve it from a real registry.

export interface SignatureSource {
  /** A manifest by tag or digest (its bytes), or undefined when the registry has none. */
  manifest(reference: string): Promise<Buffer | undefined>;
  /** The referrers index of `digest`, or undefined when the registry does not offer the referrers API. */
  referrers(digest: string): Promise<Buffer | undefined>;
  /** A blob, at most `maxBytes` long. */
  blob(digest: string, maxBytes: number): Promise<Buffer>;
}
