// A throwaway certificate authority for tests, driven through the `openssl` CLI.
// Keys are EC P-256: accepted by Go's crypto/tls (docker-registry, skopeo, containerd) and by Node.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface TestCa {
  dir: string;
  caCertPath: string;
  caCertPem: string;
  /** A folder holding only `ca.crt`, the layout `skopeo --src-cert-dir` / `--dest-cert-dir` expects. */
  certDir: string;
  /**
   * Issues a leaf certificate usable for TLS servers and clients, and for signing tokens. `days` below 0 gives a
   * certificate that has already expired (not after = now + days), for the refusal tests.
   */
  issue(name: string, hostnames: string[], ips?: string[], options?: { days?: number }): Promise<IssuedCert>;
}

// Own config files so that the system openssl.cnf (and its default extensions) cannot interfere.
const caConfig = `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = Pullgate Test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
`;

function leafExtensions(hostnames: string[], ips: string[]): string {
  const sans = [...hostnames.map((h) => `DNS:${h}`), ...ips.map((ip) => `IP:${ip}`)];
  const lines = [
    '[leaf]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth, clientAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  ];
  // An empty subjectAltName line is an openssl error; a leaf without SANs is only a signer.
  if (sans.length > 0) lines.push(`subjectAltName = ${sans.join(', ')}`);
  return lines.join('\n') + '\n';
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr || String(err)}`);
  }
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createTestCa(dir: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const caCertPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca.key');
  await writeFile(join(dir, 'ca.cnf'), caConfig);
  await openssl(
    ['req', '-x509', ...ecKey, '-keyout', caKeyPath, '-out', caCertPath, '-days', '30', '-config', 'ca.cnf'],
    dir,
  );
  const caCertPem = await readFile(caCertPath, 'utf8');
  const certDir = join(dir, 'certs-dir');
  await mkdir(certDir, { recursive: true });
  await writeFile(join(certDir, 'ca.crt'), caCertPem);

  const issue = async (name: string, hostnames: string[], ips: string[] = [], options: { days?: number } = {}): Promise<IssuedCert> => {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`certificate name must be a plain file name: ${name}`);
    for (const ip of ips) if (isIP(ip) === 0) throw new Error(`not an IP address: ${ip}`);
    const keyPath = join(dir, `${name}.key`);
    const certPath = join(dir, `${name}.pem`);
    const csrPath = join(dir, `${name}.csr`);
    const extPath = join(dir, `${name}.ext`);
    await writeFile(extPath, leafExtensions(hostnames, ips));
    const cn = (hostnames[0] ?? name).slice(0, 64);
    await openssl(['req', '-new', ...ecKey, '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${cn}`], dir);
    await openssl(
      [
        'x509', '-req', '-in', csrPath, '-CA', caCertPath, '-CAkey', caKeyPath,
        // Random serials: a client that caches certificates by issuer+serial must never see a repeat.
        '-set_serial', `0x${randomBytes(16).toString('hex')}`,
        '-days', String(options.days ?? 30), '-sha256', '-extfile', extPath, '-extensions', 'leaf', '-out', certPath,
      ],
      dir,
    );
    return { certPath, keyPath, certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8') };
  };

  return { dir, caCertPath, caCertPem, certDir, issue };
}
