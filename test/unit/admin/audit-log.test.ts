// The audit log on a real SQLite database: a wrapped route records who (session, or the token by its name), from
// where, what (its body without secrets) and how it ended, and reads back newest first, page by page.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminError } from '../../../src/admin/admin-errors.js';
import { audited, AuditLog, redact } from '../../../src/admin/audit-log.js';
import { route, type AnyApiRoute } from '../../../src/admin/api-kit.js';
import { openDatabase, type CacheDatabase } from '../../../src/cache/db.js';

describe('audit log', () => {
  let dir: string;
  let db: CacheDatabase;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-audit-'));
    db = openDatabase(join(dir, 'cache.db'));
  });
  after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves secrets out of a body, however deep', () => {
    assert.equal(
      redact({ name: 'corp', auth: { username: 'robot', password: 'hunter2' }, caPem: '-----BEGIN CERTIFICATE-----' }),
      '{"name":"corp","auth":{"username":"robot","password":"(hidden)"},"caPem":"(hidden)"}',
    );
    assert.equal(redact(undefined), null);
  });

  it('records each change with its principal, target and outcome, and lists newest first', async () => {
    let now = 1000;
    const log = new AuditLog(db, () => now++);
    db.prepare("INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES ('t1', 'ci script', 'h', 0)").run();
    const routes: AnyApiRoute[] = audited(log, [
      route({ method: 'GET', url: '/api/things', summary: 'List things', tag: 't', handler: () => undefined }),
      route({ method: 'POST', url: '/api/things', summary: 'Add a thing', tag: 't', handler: () => undefined }),
      route({
        method: 'DELETE',
        url: '/api/things/:name',
        summary: 'Delete a thing',
        tag: 't',
        handler: () => {
          throw new AdminError('NOT_FOUND', 'no such thing');
        },
      }),
    ]);
    const input = (body: unknown, params: Record<string, string>, principal: unknown) => ({
      body,
      query: undefined,
      params,
      principal: principal as never,
      req: { ip: '127.0.0.9' } as FastifyRequest,
      reply: {} as FastifyReply,
    });
    await routes[0]?.handler(input(undefined, {}, undefined));
    await routes[1]?.handler(input({ name: 'lamp', password: 'secret' }, {}, { via: 'session', csrfToken: 'c', sessionHash: 's' }));
    await assert.rejects(Promise.resolve(routes[2]?.handler(input(undefined, { name: 'lamp' }, { via: 'token', tokenId: 't1' }))), /no such thing/);

    const summaries = new Map(routes.map((r) => [`${r.method} ${r.url}`, r.summary]));
    const entries = log.list(10, undefined, summaries);
    assert.deepEqual(
      entries.map((e) => [e.via, e.actor, e.client, e.action, e.summary, e.target, e.detail, e.outcome]),
      [
        ['token', 'token ci script', '127.0.0.9', 'DELETE /api/things/:name', 'Delete a thing', 'lamp', null, 'NOT_FOUND'],
        ['session', 'admin', '127.0.0.9', 'POST /api/things', 'Add a thing', 'lamp', '{"name":"lamp","password":"(hidden)"}', 'ok'],
      ],
      'a read is not recorded',
    );
    assert.deepEqual(log.list(10, entries[0]?.id, summaries).map((e) => e.action), ['POST /api/things']);
  });
});
