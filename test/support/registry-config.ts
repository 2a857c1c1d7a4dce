// distribution v2 configuration (https://distribution.github.io/distribution/about/configuration/) for a
// Docker-Hub-like upstream: filesystem storage, TLS, token auth, and blob redirects to a CDN host.
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';

export interface RegistryConfigInput {
  addr: string;
  storageRoot: string;
  tls: { certPath: string; keyPath: string };
  /** Token auth; omitted means an open registry. */
  auth?: { realm: string; service: string; issuer: string; rootCertBundle: string } | undefined;
  /** Base URL of the CDN host; when set, every blob GET and HEAD answers 307 to `<base><storage path>`. */
  redirectBaseUrl?: string | undefined;
}

export function registryConfigYaml(input: RegistryConfigInput): string {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    // No `storage.cache`: blobs placed straight into the storage tree (writeLargeBlob) must be seen at once.
    storage: {
      filesystem: { rootdirectory: input.storageRoot },
      delete: { enabled: true },
      redirect: { disable: input.redirectBaseUrl === undefined },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: input.addr,
      secret: randomBytes(16).toString('hex'),
      tls: { certificate: input.tls.certPath, key: input.tls.keyPath },
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
  };
  if (input.auth !== undefined) {
    config['auth'] = {
      token: {
        realm: input.auth.realm,
        service: input.auth.service,
        issuer: input.auth.issuer,
        rootcertbundle: input.auth.rootCertBundle,
      },
    };
  }
  if (input.redirectBaseUrl !== undefined) {
    // The middleware keeps only scheme and host of baseurl and appends the storage path (registry/storage/
    // driver/middleware/redirect); the filesystem driver alone cannot produce URLs.
    config['middleware'] = { storage: [{ name: 'redirect', options: { baseurl: input.redirectBaseUrl } }] };
  }
  return stringify(config);
}
