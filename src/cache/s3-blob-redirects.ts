// Presigned GET URLs for committed blobs (`cache.storage.redirect`, docs/storage.md,
// "Redirecting blob downloads to the bucket"): what a client follows instead of streaming the blob through a replica.
// Signing is local (no request to the object store). The URL carries the access key id, its scope and expiry and the
// signature; never the secret key. Only the Host header is signed, so the client may add Range, and a client that
// dropped the mirror's Authorization on the cross-host hop (as HTTP clients do, docs/protocol.md, "Blobs") sends the
// object store nothing but the URL.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

export interface S3BlobRedirectsOptions {
  /** Set up with the endpoint clients reach (`redirectEndpoint`), which is the host the URL is signed for. */
  client: S3Client;
  bucket: string;
  ttlMs: number;
}

export class S3BlobRedirects {
  constructor(private readonly o: S3BlobRedirectsOptions) {}

  urlFor(key: string): Promise<string> {
    return getSignedUrl(this.o.client, new GetObjectCommand({ Bucket: this.o.bucket, Key: key }), { expiresIn: Math.floor(this.o.ttlMs / 1000) });
  }
}
