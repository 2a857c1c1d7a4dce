// Secrets at rest (upstream passwords added through the admin): AES-256-GCM with a key kept in the data
// directory (`secret.key`, mode 0600, generated on first start) or given by PULLGATE_SECRET_KEY (base64, 32 bytes).
// A database copied without its key reveals no credential.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ivLength = 12;
const tagLength = 16;

export class SecretBoxError extends Error {
  readonly code = 'SECRET_KEY_INVALID';
}

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new SecretBoxError('the secret key must be 32 bytes (base64 in PULLGATE_SECRET_KEY)');
    return new SecretBox(key);
  }

  /** The key from the environment, else from `<dataDir>/secret.key`, created (0600) when missing. */
  static async open(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<SecretBox> {
    if (env.PULLGATE_SECRET_KEY) return SecretBox.fromKey(Buffer.from(env.PULLGATE_SECRET_KEY, 'base64'));
    const path = join(dataDir, 'secret.key');
    try {
      return SecretBox.fromKey(Buffer.from((await readFile(path, 'utf8')).trim(), 'base64'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = randomBytes(32);
    // `wx`: two processes starting at once never overwrite each other's key.
    await writeFile(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await chmod(path, 0o600);
    return SecretBox.fromKey(Buffer.from((await readFile(path, 'utf8')).trim(), 'base64'));
  }

  /** A key for another purpose (token signing), derived so that the secret key itself is used only here. */
  derive(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(`pullgate:${purpose}`).digest();
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
  seal(plain: string): string {
    const iv = randomBytes(ivLength);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: tagLength });
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || iv === undefined || tag === undefined || body === undefined) {
      throw new SecretBoxError('a stored secret is not in a known format');
    }
    // The full 16-byte tag and a 12-byte IV, as sealed: GCM would accept a shortened tag, which a forger can guess.
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    if (ivBytes.length !== ivLength || tagBytes.length !== tagLength) {
      throw new SecretBoxError('a stored secret cannot be decrypted with this secret key (was secret.key replaced?)');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, ivBytes, { authTagLength: tagLength });
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('a stored secret cannot be decrypted with this secret key (was secret.key replaced?)');
    }
  }
}
