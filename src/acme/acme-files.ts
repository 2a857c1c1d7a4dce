// Where ACME state lives in the data directory: the account key (`acme/account-key.pem`, mode 0600) and one
// directory per hostname under `certs/` with `fullchain.pem` and `privkey.pem`. Files are replaced by rename,
// so a crash mid-write leaves the previous certificate in place.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PemPair } from '../tls/self-signed.js';

export class AcmeFiles {
  constructor(private readonly dataDir: string) {}

  get accountKeyPath(): string {
    return join(this.dataDir, 'acme', 'account-key.pem');
  }

  certificateDir(host: string): string {
    return join(this.dataDir, 'certs', host);
  }

  /** The account key, created by `create` on first use. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const existing = await readFile(this.accountKeyPath, 'utf8').catch(notFound);
    if (existing !== undefined) return existing;
    const key = await create();
    await mkdir(join(this.dataDir, 'acme'), { recursive: true, mode: 0o700 });
    await replaceFile(this.accountKeyPath, key, 0o600);
    return key;
  }

  async readCertificate(host: string): Promise<PemPair | undefined> {
    const dir = this.certificateDir(host);
    const [cert, key] = await Promise.all([
      readFile(join(dir, 'fullchain.pem'), 'utf8').catch(notFound),
      readFile(join(dir, 'privkey.pem'), 'utf8').catch(notFound),
    ]);
    return cert !== undefined && key !== undefined ? { cert, key } : undefined;
  }

  async writeCertificate(host: string, pair: PemPair): Promise<void> {
    const dir = this.certificateDir(host);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Key first: a reader that sees the new chain must find its key.
    await replaceFile(join(dir, 'privkey.pem'), pair.key, 0o600);
    await replaceFile(join(dir, 'fullchain.pem'), pair.cert, 0o644);
  }
}

function notFound(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode, flush: true });
  await rename(temp, path);
}
