// AdminAuth.login over a real SQLite database: the limit is per client, so failures from many other addresses never
// lock out an operator who has not failed (docs/security.md, "Operator and admin").
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { AdminAuth } from '../../../src/admin/admin-auth.js';
import { AdminError } from '../../../src/admin/admin-errors.js';
import { openDatabase } from '../../../src/cache/db.js';

const password = 'the-admin-password';

async function withAuth(work: (auth: AdminAuth) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-login-'));
  const db = openDatabase(join(dir, 'cache.db'));
  try {
    const auth = new AdminAuth(db, pino({ level: 'silent' }), { password, sessionTtlMs: 60_000 });
    await auth.init();
    await work(auth);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const code = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'OK',
    (err: unknown) => (err instanceof AdminError ? err.code : String(err)),
  );

describe('admin login', () => {
  it('failures from 11 addresses (55 guesses) do not lock out an address that has not failed', async () => {
    await withAuth(async (auth) => {
      for (let a = 0; a < 11; a++) {
        for (let i = 0; i < 5; i++) assert.equal(await code(auth.login(`wrong-${i}`, `198.51.100.${a}`)), 'UNAUTHORIZED');
      }
      assert.equal(await code(auth.login(password, '203.0.113.9')), 'OK');
      assert.equal(await code(auth.login(password, '198.51.100.0')), 'TOO_MANY_ATTEMPTS');
    });
  });

  it('parallel attempts from one client are counted before the password is checked', async () => {
    await withAuth(async (auth) => {
      const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => code(auth.login(`wrong-${i}`, '192.0.2.1'))));
      assert.equal(codes.filter((c) => c === 'UNAUTHORIZED').length, 5, codes.join(' '));
      assert.equal(codes.filter((c) => c === 'TOO_MANY_ATTEMPTS').length, 7, codes.join(' '));
    });
  });

  it('a success clears the client: the next failures start a new count', async () => {
    await withAuth(async (auth) => {
      for (let i = 0; i < 4; i++) await code(auth.login('wrong', '192.0.2.7'));
      assert.equal(await code(auth.login(password, '192.0.2.7')), 'OK');
      for (let i = 0; i < 5; i++) assert.equal(await code(auth.login('wrong', '192.0.2.7')), 'UNAUTHORIZED');
      assert.equal(await code(auth.login(password, '192.0.2.7')), 'TOO_MANY_ATTEMPTS');
    });
  });
});

describe('admin login over IPv6', () => {
  it('an IPv6 client is its /64: new addresses in the same /64 get no new attempts, another /64 is not limited', async () => {
    await withAuth(async (auth) => {
      for (let i = 1; i <= 5; i++) assert.equal(await code(auth.login('wrong', `2001:db8:0:7::${i}`)), 'UNAUTHORIZED');
      assert.equal(await code(auth.login('wrong', '2001:db8:0:7:ffff:1:2:3')), 'TOO_MANY_ATTEMPTS');
      assert.equal(await code(auth.login('wrong', '2001:0db8:0000:0007::abcd')), 'TOO_MANY_ATTEMPTS');
      assert.equal(await code(auth.login(password, '2001:db8:0:8::1')), 'OK');
      // IPv4 clients seen on a dual-stack socket (`::ffff:a.b.c.d`) are still one address each.
      for (let i = 0; i < 5; i++) assert.equal(await code(auth.login('wrong', '::ffff:192.0.2.50')), 'UNAUTHORIZED');
      assert.equal(await code(auth.login('wrong', '192.0.2.50')), 'TOO_MANY_ATTEMPTS');
      assert.equal(await code(auth.login(password, '::ffff:192.0.2.51')), 'OK');
    });
  });

  it('guesses spread over the /64s of one /48 get 25 checks in all; another /48 is not limited', async () => {
    await withAuth(async (auth) => {
      const in48 = (n: number) => `2001:db8:5:${n.toString(16)}::1`;
      for (let n = 0; n < 25; n++) assert.equal(await code(auth.login('wrong', in48(n))), 'UNAUTHORIZED', in48(n));
      assert.equal(await code(auth.login('wrong', in48(25))), 'TOO_MANY_ATTEMPTS', 'a fresh /64 of the same /48');
      assert.equal(await code(auth.login(password, in48(0xffff))), 'TOO_MANY_ATTEMPTS', 'even the right password waits');
      assert.equal(await code(auth.login(password, '2001:db8:6::1')), 'OK');
    });
  });

  it('logins that succeed use up none of the /48 budget', async () => {
    await withAuth(async (auth) => {
      for (let n = 0; n < 30; n++) assert.equal(await code(auth.login(password, `2001:db8:7:${n}::1`)), 'OK');
      for (let n = 0; n < 25; n++) assert.equal(await code(auth.login('wrong', `2001:db8:7:${100 + n}::1`)), 'UNAUTHORIZED');
      assert.equal(await code(auth.login(password, '2001:db8:7:ffff::1')), 'TOO_MANY_ATTEMPTS');
    });
  });
});
