// A Docker-Hub-like upstream made of real software: Debian's docker-registry (distribution 2.8) over TLS,
// a token server, and a CDN host its blob redirects point at. Each instance owns one temp dir.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCdn, type Cdn } from './cdn.js';
import { startLinkEmulator, type LinkEmulator, type LinkOptions } from './link-emulator.js';
import { assertInstalled } from './installed-tools.js';
import { createTestCa, type TestCa } from './pki.js';
import { registryConfigYaml } from './registry-config.js';
import { launchRegistryProcess } from './registry-process.js';
import { startTokenServer, type TokenServer } from './token-server.js';
import type { KeyIdMode } from './token-signer.js';

export interface RealRegistryOptions {
  /** user -> password; default `{ pusher: 'pusher-secret', reader: 'reader-secret' }`. */
  users?: Record<string, string>;
  /** Token lifetime in seconds; default 300. */
  tokenExpiresIn?: number;
  /** Redirect blob GET/HEAD to the CDN host; default true. */
  redirectBlobs?: boolean;
  /** Require token auth; default true. The token server runs either way. */
  auth?: boolean;
  keyIdMode?: KeyIdMode;
  /** Loopback address for the CDN; a different host than the registry's, so clients drop Authorization. */
  cdnHost?: string;
  /** The CDN answers over plain http: the registry's blob redirects go from https to http (a downgrade). */
  cdnPlainHttp?: boolean;
  /** Pace each CDN body to this many bytes per second (an upstream link's speed); default: as fast as it goes. */
  cdnBytesPerSecond?: number;
  /**
   * Put a link emulator between the registry's redirects and the CDN (a long or lossy path to the blob store):
   * blob redirects point at the emulator, on the CDN's address.
   */
  cdnLink?: Omit<LinkOptions, 'targetPort' | 'targetHost' | 'listenHost'>;
  /** Leave the temp dir behind after stop(), for debugging. */
  keepDir?: boolean;
}

export interface RealRegistry {
  dir: string;
  /** `https://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  /** A DNS name in the registry's certificate (resolving it needs an /etc/hosts entry). */
  hostname: string;
  ca: TestCa;
  /** PEM of the test CA: `SSL_CERT_FILE` for Go programs, `ca` for Node clients. */
  caFile: string;
  tokenServer: TokenServer;
  cdn: Cdn;
  /** The emulated path to the CDN, with `cdnLink`. */
  cdnLink?: LinkEmulator;
  /** The token server's user map (the same object): add users at run time here. */
  users: Record<string, string>;
  /** The first configured user, used to push; undefined when no users are configured. */
  credentials?: { user: string; password: string } | undefined;
  /** distribution's `rootdirectory`: blobs live at `<root>/docker/registry/v2/blobs/...`. */
  storageRoot: string;
  auth: boolean;
  redirectBlobs: boolean;
  /** Environment for Go clients (skopeo, containerd, docker-registry as a proxy) to trust the test CA. */
  clientEnv(): NodeJS.ProcessEnv;
  /** docker-registry's stdout and stderr so far (the last few MB). */
  logs(): string;
  stop(): Promise<void>;
}

const service = 'pullgate-test-registry';
const issuer = 'pullgate-test-token-issuer';
const hostname = 'upstream.pullgate.test';

export async function startRealRegistry(opts: RealRegistryOptions = {}): Promise<RealRegistry> {
  await assertInstalled('docker-registry', 'openssl');
  const auth = opts.auth ?? true;
  const redirectBlobs = opts.redirectBlobs ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-upstream-'));
  // Everything started so far, stopped in reverse order by stop() or when start-up fails half way.
  const cleanups: (() => Promise<void>)[] = [() => (opts.keepDir ? Promise.resolve() : rm(dir, { recursive: true, force: true }))];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const storageRoot = join(dir, 'storage');
    await mkdir(storageRoot);
    const ca = await createTestCa(join(dir, 'pki'));
    const cdnHost = opts.cdnHost ?? '127.0.0.2';
    const [registryTls, tokenTls, cdnTls, signer] = await Promise.all([
      ca.issue('registry', [hostname, 'localhost'], ['127.0.0.1', '::1']),
      ca.issue('token-server', ['auth.pullgate.test', 'localhost'], ['127.0.0.1']),
      ca.issue('cdn', ['cdn.pullgate.test'], [cdnHost]),
      ca.issue('token-signer', []),
    ]);
    const tokenServer = await startTokenServer({
      tls: tokenTls,
      signer,
      service,
      issuer,
      users: opts.users ?? { pusher: 'pusher-secret', reader: 'reader-secret' },
      expiresIn: opts.tokenExpiresIn,
      keyIdMode: opts.keyIdMode,
    });
    cleanups.push(tokenServer.close);
    const cdn = await startCdn({ storageRoot, tls: cdnTls, host: cdnHost, ...(opts.cdnPlainHttp ? { plainHttp: true } : {}), ...(opts.cdnBytesPerSecond ? { bytesPerSecond: opts.cdnBytesPerSecond } : {}) });
    cleanups.push(cdn.close);
    const cdnPort = Number(new URL(cdn.url).port);
    const link = opts.cdnLink ? await startLinkEmulator({ ...opts.cdnLink, targetPort: cdnPort, targetHost: cdnHost, listenHost: cdnHost }) : undefined;
    if (link) cleanups.push(link.close);
    const redirectBase = link ? `https://${cdnHost}:${link.port}` : cdn.url;
    // The signer certificate is in the bundle as well as the CA, so both `x5c` and `kid` tokens verify.
    const rootCertBundle = join(dir, 'token-root-bundle.pem');
    await writeFile(rootCertBundle, ca.caCertPem + signer.certPem);

    const registry = await launchRegistryProcess({
      configPath: join(dir, 'config.yml'),
      configFor: (port) =>
        registryConfigYaml({
          addr: `127.0.0.1:${port}`,
          storageRoot,
          tls: registryTls,
          auth: auth ? { realm: tokenServer.realm, service, issuer, rootCertBundle } : undefined,
          redirectBaseUrl: redirectBlobs ? redirectBase : undefined,
        }),
      caPem: ca.caCertPem,
      expectedStatus: auth ? 401 : 200,
    });
    cleanups.push(registry.stop);

    let stopping: Promise<void> | undefined;
    const [firstUser] = Object.entries(tokenServer.users);
    return {
      dir,
      url: `https://127.0.0.1:${registry.port}`,
      host: `127.0.0.1:${registry.port}`,
      hostname,
      ca,
      caFile: ca.caCertPath,
      tokenServer,
      cdn,
      ...(link ? { cdnLink: link } : {}),
      users: tokenServer.users,
      credentials: firstUser === undefined ? undefined : { user: firstUser[0], password: firstUser[1] },
      storageRoot,
      auth,
      redirectBlobs,
      clientEnv: () => ({ ...process.env, SSL_CERT_FILE: ca.caCertPath }),
      logs: registry.logs,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
