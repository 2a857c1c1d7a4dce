// Secrets at rest: the admin password as a scrypt hash, upstream credentials sealed with the data directory's key.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generatePassword, hashPassword, verifyPassword } from '../../../src/access/password.js';
import { SecretBox } from '../../../src/cache/secret-box.js';

describe('the admin password hash', () => {
  it('verifies the password it was made from and nothing else, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('correct horsf', a), false);
    assert.equal(await verifyPassword('correct horse', 'plain-text'), false);
    assert.equal(await verifyPassword('x', 'scrypt$nope$8$1$aa$bb'), false);
  });
  it('generated passwords are long and differ', () => {
    const p = generatePassword();
    assert.match(p, /^[A-Za-z2-9]{24}$/);
    assert.notEqual(p, generatePassword());
  });
});

describe('the secret box', () => {
  it('makes a key file of mode 0600 on first start, reuses it, and round-trips sealed values', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-secrets-'));
    try {
      const box = await SecretBox.open(dir, {});
      const sealed = box.seal('robot-password');
      assert.ok(!sealed.includes('robot-password'));
      assert.notEqual(box.seal('robot-password'), sealed, 'a fresh IV each time');
      assert.equal((await stat(join(dir, 'secret.key'))).mode & 0o777, 0o600);
      const again = await SecretBox.open(dir, {});
      assert.equal(again.open(sealed), 'robot-password');
      const key = await readFile(join(dir, 'secret.key'), 'utf8');
      const fromEnv = await SecretBox.open(join(dir, 'elsewhere'), { PULLGATE_SECRET_KEY: key.trim() });
      assert.equal(fromEnv.open(sealed), 'robot-password', 'the same key given by PULLGATE_SECRET_KEY opens it');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('another key cannot open a sealed value, and a tampered one is refused, each with a clear error', async () => {
    const a = SecretBox.fromKey(Buffer.alloc(32, 1));
    const b = SecretBox.fromKey(Buffer.alloc(32, 2));
    const sealed = a.seal('secret');
    assert.throws(() => b.open(sealed), /cannot be decrypted with this secret key/);
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => a.open(parts.join('.')), /cannot be decrypted/);
    assert.throws(() => a.open('v9.x.y.z'), /not in a known format/);
    assert.throws(() => SecretBox.fromKey(Buffer.alloc(16)), /32 bytes/);
  });
  it('the key from the environment wins over the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pullgate-secrets-'));
    try {
      await writeFile(join(dir, 'secret.key'), `${Buffer.alloc(32, 3).toString('base64')}\n`);
      const fromEnv = await SecretBox.open(dir, { PULLGATE_SECRET_KEY: Buffer.alloc(32, 4).toString('base64') });
      assert.equal(SecretBox.fromKey(Buffer.alloc(32, 4)).open(fromEnv.seal('x')), 'x');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('secrets, strictly', () => {
  it('a sealed secret opens only with its full 16-byte tag: a shortened tag (a forgery needs fewer guesses) is refused', () => {
    const box = SecretBox.fromKey(Buffer.alloc(32, 7));
    const [version, iv, tag, body] = box.seal('robot-password').split('.');
    const full = Buffer.from(tag ?? '', 'base64url');
    assert.equal(full.length, 16);
    for (const bytes of [4, 8, 12, 15]) {
      const shortened = [version, iv, full.subarray(0, bytes).toString('base64url'), body].join('.');
      assert.throws(() => box.open(shortened), (err: Error) => (err as { code?: string }).code === 'SECRET_KEY_INVALID', `${bytes}-byte tag`);
    }
    const longIv = [version, Buffer.alloc(16).toString('base64url'), tag, body].join('.');
    assert.throws(() => box.open(longIv), /cannot be decrypted|not in a known format/);
  });

  it('generated passwords use every character of the alphabet equally often (no modulo bias)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 12_000; i++) for (const c of generatePassword()) counts.set(c, (counts.get(c) ?? 0) + 1);
    const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    assert.equal(counts.size, alphabet.length);
    // With bytes modulo 56, the first 32 characters come 5 times in 256 and the rest 4 times: 25 % more often.
    const mean = (chars: string) => [...chars].reduce((n, c) => n + (counts.get(c) ?? 0), 0) / chars.length;
    const ratio = mean(alphabet.slice(0, 32)) / mean(alphabet.slice(32));
    assert.ok(Math.abs(ratio - 1) < 0.04, `the first 32 characters come ${ratio.toFixed(3)} times as often as the rest`);
  });
});
