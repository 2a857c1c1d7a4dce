// Admin login limits (docs/security.md, "Operator and admin"): an attempt counts before its password is checked,
// so parallel guesses get no more tries than sequential ones; the limit is per client, so failures from other
// addresses never lock an operator out; behind a trusted proxy the client is the address the proxy reports.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startMirror, type TestMirror } from '../support/mirror-app.js';

const password = 'admin-password-for-tests';

async function login(base: string, pw: string, forwardedFor?: string): Promise<number> {
  const res = await request(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
    body: JSON.stringify({ password: pw }),
  });
  await res.body.dump();
  return res.statusCode;
}

describe('admin login limits', () => {
  test('20 parallel wrong logins from one client get at most 5 password checks; the rest are 429', async () => {
    const m = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => login(m.adminUrl ?? '', `wrong-${i}`)));
      assert.ok(statuses.filter((s) => s === 401).length <= 5, `answers: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((s) => s === 429).length + statuses.filter((s) => s === 401).length, 20);
      assert.equal(await login(m.adminUrl ?? '', password), 429, 'the right password waits too');
    } finally {
      await m.close();
    }
  });

  describe('behind a trusted proxy', () => {
    let m: TestMirror;
    before(async () => {
      m = await startMirror({ listen: { admin: '127.0.0.1:0' }, access: { trustedProxies: ['127.0.0.1'] }, upstreams: [] }, { adminPassword: password });
    });
    after(async () => {
      await m?.close();
    });

    test('a client the proxy names is limited on its own: a neighbour behind the same proxy still logs in', async () => {
      for (let i = 0; i < 5; i++) assert.equal(await login(m.adminUrl ?? '', `wrong-${i}`, '192.0.2.1'), 401);
      assert.equal(await login(m.adminUrl ?? '', password, '192.0.2.1'), 429);
      assert.equal(await login(m.adminUrl ?? '', password, '192.0.2.2'), 200);
    });

    test('failures from many addresses lock none of the others out', async () => {
      for (let a = 10; a < 13; a++) {
        for (let i = 0; i < 5; i++) assert.equal(await login(m.adminUrl ?? '', `wrong-${a}-${i}`, `198.51.100.${a}`), 401);
      }
      assert.equal(await login(m.adminUrl ?? '', password, '203.0.113.9'), 200);
    });
  });

  test('without a trusted proxy, X-Forwarded-For is not believed: rotating it does not buy more guesses', async () => {
    const m = await startMirror({ listen: { admin: '127.0.0.1:0' }, upstreams: [] }, { adminPassword: password });
    try {
      for (let i = 0; i < 5; i++) assert.equal(await login(m.adminUrl ?? '', `wrong-${i}`, `192.0.2.${i + 1}`), 401);
      assert.equal(await login(m.adminUrl ?? '', 'wrong-again', '192.0.2.99'), 429);
    } finally {
      await m.close();
    }
  });
});
