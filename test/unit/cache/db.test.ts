import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CacheDatabaseError, openDatabase, schemaVersion } from '../../../src/cache/db.js';
import { migrations } from '../../../src/cache/migrations.js';
import { tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const tables = (db: Database.Database): string[] =>
  db.prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all();

describe('openDatabase', () => {
  it('creates the schema and records its version', async () => {
    const db = openDatabase(join(await dirs.make(), 'cache.db'));
    try {
      assert.equal(schemaVersion(db), migrations.length);
      assert.deepEqual(tables(db), [
        'admin_sessions',
        'api_tokens',
        'audit_log',
        'blobs',
        'links',
        'manifest_refs',
        'manifests',
        'passthrough_routes',
        'pins',
        'registry_users',
        'settings',
        'signature_verdicts',
        'tags',
        'traffic',
        'traffic_minutes',
        'upstream_sources',
        'watch_entries',
        'watch_history',
        'watch_runs',
        'watch_tags',
      ]);
    } finally {
      db.close();
    }
  });

  it('creates the parent directory of the database', async () => {
    const db = openDatabase(join(await dirs.make(), 'nested', 'deeper', 'cache.db'));
    db.close();
  });

  it('sets WAL, synchronous NORMAL, foreign keys and a busy timeout', async () => {
    const db = openDatabase(join(await dirs.make(), 'cache.db'));
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 1);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.ok((db.pragma('busy_timeout', { simple: true }) as number) > 0);
    } finally {
      db.close();
    }
  });

  it('reopening an up-to-date database changes nothing and keeps the rows', async () => {
    const path = join(await dirs.make(), 'cache.db');
    const first = openDatabase(path);
    first.prepare(`INSERT INTO blobs (digest, size, stored_at, last_access) VALUES ('sha256:x', 1, 2, 3)`).run();
    first.close();
    const second = openDatabase(path);
    try {
      assert.equal(schemaVersion(second), migrations.length);
      assert.equal(second.prepare(`SELECT count(*) FROM blobs`).pluck().get(), 1);
    } finally {
      second.close();
    }
  });

  it('applies only the steps after the stored version', async () => {
    const path = join(await dirs.make(), 'cache.db');
    openDatabase(path).close();
    const next = [...migrations, { name: 'add a table', sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY)' }];
    const db = openDatabase(path, next);
    try {
      assert.equal(schemaVersion(db), migrations.length + 1);
      assert.ok(tables(db).includes('extra'));
    } finally {
      db.close();
    }
    openDatabase(path, next).close(); // a second run would fail on CREATE TABLE if the step ran again
  });

  it('refuses a database written by a newer Pullgate', async () => {
    const path = join(await dirs.make(), 'cache.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    assert.throws(
      () => openDatabase(path),
      (err: unknown) => err instanceof CacheDatabaseError && err.code === 'CACHE_DB_TOO_NEW',
    );
  });

  it('a failing step rolls back entirely and leaves the version where it was', async () => {
    const path = join(await dirs.make(), 'cache.db');
    openDatabase(path).close();
    const broken = [...migrations, { name: 'half a step', sql: 'CREATE TABLE half (id INTEGER); SELECT * FROM nowhere;' }];
    assert.throws(
      () => openDatabase(path, broken),
      (err: unknown) => err instanceof CacheDatabaseError && err.code === 'CACHE_DB_MIGRATION_FAILED',
    );
    const db = openDatabase(path);
    try {
      assert.equal(schemaVersion(db), migrations.length);
      assert.ok(!tables(db).includes('half'));
    } finally {
      db.close();
    }
  });
});
