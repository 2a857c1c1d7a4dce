// The upstream scripts/verify-image.sh pulls through the container from: a real registry (Debian's docker-registry
// with token auth and CDN redirects, test/support/real-registry.ts) on loopback, one fixture image pushed with
// skopeo, and a Pullgate config naming it as the default upstream. Writes into DIR (mode 0755, files 0644, as the
// container's unprivileged user reads them):
//   pullgate.yaml    the container's config: registry and admin listeners on free loopback ports, the upstream
//   upstream-ca.pem  the test CA, mounted where the config names it
//   env              shell assignments: HTTP_PORT, ADMIN_PORT, IMAGE (repository:tag), DIGEST (of its manifest)
// then runs until SIGTERM or SIGINT, and stops the registry.
//   node --import tsx scripts/verify-image-upstream.ts DIR
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildFixtureLayout } from '../test/support/fixture-images.js';
import { freePort } from '../test/support/loopback-listener.js';
import { startRealRegistry } from '../test/support/real-registry.js';
import { inspectRaw, skopeo } from '../test/support/skopeo.js';

/** Where the container sees the test CA. */
const containerCaPath = '/etc/pullgate/upstream-ca.pem';
/** The fixture pulled through the container: a Docker schema2 image with one layer (test/support/fixture-images.ts). */
const fixture = { name: 'alpine', repository: 'library/alpine', tag: '3.20' };

const dir = process.argv[2];
if (!dir) {
  console.error('usage: verify-image-upstream.ts DIR');
  process.exit(2);
}

const reg = await startRealRegistry();
const stop = async (code: number): Promise<never> => {
  await reg.stop();
  process.exit(code);
};
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));

try {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const layout = await buildFixtureLayout(join(reg.dir, 'fixture-layout'));
  const creds = reg.credentials;
  if (creds === undefined) throw new Error('the registry has no user to push with');
  const reference = `${reg.host}/${fixture.repository}:${fixture.tag}`;
  await skopeo(['copy', '--quiet', '--format', 'v2s2', '--dest-cert-dir', reg.ca.certDir, '--dest-creds', `${creds.user}:${creds.password}`,
    `oci:${layout}:${fixture.name}`, `docker://${reference}`]);
  const { digest } = await inspectRaw(reference, { certDir: reg.ca.certDir, credentials: creds });

  const [httpPort, adminPort] = [await freePort(), await freePort()];
  const config = {
    listen: { http: `127.0.0.1:${httpPort}`, admin: `127.0.0.1:${adminPort}` },
    upstreams: [{ name: 'hub', registry: 'docker.io', url: reg.url, ca: containerCaPath, default: true }],
  };
  const file = async (name: string, text: string): Promise<void> => {
    await writeFile(join(dir, name), text);
    await chmod(join(dir, name), 0o644);
  };
  await copyFile(reg.caFile, join(dir, 'upstream-ca.pem'));
  await chmod(join(dir, 'upstream-ca.pem'), 0o644);
  await file('pullgate.yaml', stringify(config));
  // Written last: its presence tells the shell script that everything is ready.
  await file('env', `HTTP_PORT=${httpPort}\nADMIN_PORT=${adminPort}\nIMAGE=${fixture.repository}:${fixture.tag}\nDIGEST=${digest}\n`);
  console.error(`[verify-image] upstream ${reg.url} serves ${fixture.repository}:${fixture.tag} (${digest})`);
} catch (err) {
  console.error(err);
  await stop(1);
}
