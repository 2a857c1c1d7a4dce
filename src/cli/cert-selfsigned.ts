// `pullgate cert selfsigned`: a development CA and a certificate for the given hostnames, with the config lines
// that serve it and the lines that make Linux, Docker, containerd and podman trust it. An existing CA in the
// output directory is reused, so that hosts can be added without trusting a new CA everywhere again.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { isHostname } from '../config/hosts.js';
import { createDevelopmentCa, createLeafCertificate, isUsableCa, type PemPair } from '../tls/self-signed.js';
import { UsageError } from './usage-exit.js';

export interface CertSelfsignedFlags {
  hosts: string;
  out: string;
  days: string;
  port?: string;
  json?: boolean;
}

interface Files {
  ca: string;
  caKey: string;
  cert: string;
  key: string;
}

function parseHosts(list: string): string[] {
  const hosts = [...new Set(list.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean))];
  if (hosts.length === 0) throw new UsageError('--hosts needs at least one hostname, e.g. --hosts mirror.example.test');
  const bad = hosts.filter((h) => !isHostname(h) && !isIP(h));
  if (bad.length) throw new UsageError(`--hosts: not a hostname or IP address: ${bad.join(', ')}`);
  return hosts;
}

function parsePositive(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag}: expected a whole number from 1 to ${max}, got ${value}`);
  return n;
}

async function readCa(files: Files): Promise<PemPair | undefined> {
  const [cert, key] = await Promise.all([readFile(files.ca, 'utf8').catch(() => undefined), readFile(files.caKey, 'utf8').catch(() => undefined)]);
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError(`${files.ca} and ${files.caKey} must both exist to reuse the CA; remove the other one`);
  let usable = false;
  try {
    usable = isUsableCa({ cert, key });
  } catch {
    usable = false;
  }
  if (!usable) throw new UsageError(`${files.ca} with ${files.caKey} is not a development CA this command can sign with; choose another --out`);
  return { cert, key };
}

function trustLines(files: Files, hosts: string[], port: number | undefined): Record<string, string[]> {
  const names = hosts.map((h) => (port ? `${h}:${port}` : h));
  return {
    linux: [
      `cp ${files.ca} /usr/local/share/ca-certificates/pullgate-development-ca.crt && update-ca-certificates`,
    ],
    docker: names.map((n) => `mkdir -p /etc/docker/certs.d/${n} && cp ${files.ca} /etc/docker/certs.d/${n}/ca.crt`),
    containerd: names.map((n) => `[host."https://${n}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${files.ca}"`),
    podman: names.map((n) => `mkdir -p /etc/containers/certs.d/${n} && cp ${files.ca} /etc/containers/certs.d/${n}/ca.crt`),
  };
}

export async function certSelfsigned(flags: CertSelfsignedFlags): Promise<void> {
  const hosts = parseHosts(flags.hosts);
  const days = parsePositive('--days', flags.days, 3650);
  const port = flags.port === undefined ? undefined : parsePositive('--port', flags.port, 65535);
  const out = resolve(flags.out);
  const files: Files = { ca: join(out, 'ca.pem'), caKey: join(out, 'ca-key.pem'), cert: join(out, 'cert.pem'), key: join(out, 'key.pem') };
  await mkdir(out, { recursive: true, mode: 0o700 });
  const existing = await readCa(files);
  const ca = existing ?? (await createDevelopmentCa({ name: 'Pullgate Development CA', days: 3650 }));
  if (!existing) {
    await writeFile(files.caKey, ca.key, { mode: 0o600 });
    await writeFile(files.ca, ca.cert);
  }
  const leaf = await createLeafCertificate({ hosts, days }, ca);
  await writeFile(files.key, leaf.key, { mode: 0o600 });
  await writeFile(files.cert, leaf.cert);
  const config = `tls:\n  certificates:\n    - cert: ${files.cert}\n      key: ${files.key}`;
  const trust = trustLines(files, hosts, port);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ hosts, days, caReused: Boolean(existing), files, config, trust }, null, 2)}\n`);
    return;
  }
  const section = (title: string, lines: string[]) => `${title}\n${lines.map((l) => l.replace(/^/gm, '  ')).join('\n')}\n`;
  process.stdout.write(
    [
      `${existing ? 'Reused the development CA' : 'Created a development CA'} ${files.ca} and a certificate for ${hosts.join(', ')} (${days} days): ${files.cert}`,
      '',
      section('Serve it (pullgate.yaml):', [config]),
      section('Trust the CA on Linux hosts (Debian, Ubuntu):', trust.linux ?? []),
      section('Docker (per mirror host, no daemon restart):', trust.docker ?? []),
      section('containerd (in /etc/containerd/certs.d/<registry>/hosts.toml):', trust.containerd ?? []),
      section('podman, CRI-O, skopeo:', trust.podman ?? []),
      `Keep ${files.caKey} private: whoever trusts the CA trusts every certificate it signs.`,
      '',
    ].join('\n'),
  );
}
