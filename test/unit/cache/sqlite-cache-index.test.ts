import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteCacheIndex } from '../../../src/cache/sqlite-cache-index.js';
import { openIndex, putImage, sha256, tempDirs } from './cache-fixtures.js';

const dirs = tempDirs();
after(() => dirs.removeAll());

const hub = { upstream: 'hub', repository: 'library/alpine' };
const layer = sha256('layer');

describe('SqliteCacheIndex rows', () => {
  it('stores a blob with the clock time and links it to its repository', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, hub.upstream, hub.repository);
      assert.deepEqual(f.index.blob(layer), { digest: layer, size: 5, storedAt: 1_000_000, lastAccess: 1_000_000, hits: 0 });
      assert.equal(f.index.isBlobLinked(layer, 'hub', 'library/alpine'), true);
      assert.equal(f.index.isBlobLinked(layer, 'hub', 'library/busybox'), false);
      assert.equal(f.index.isBlobLinked(layer, 'gcr', 'library/alpine'), false);
    } finally {
      f.close();
    }
  });

  it('a second put of a blob keeps the first row and adds the new link', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      f.clock.advance(1000);
      f.index.putBlob(layer, 5, 'hub', 'library/busybox');
      assert.equal(f.index.blob(layer)?.storedAt, 1_000_000);
      assert.equal(f.index.isBlobLinked(layer, 'hub', 'library/busybox'), true);
    } finally {
      f.close();
    }
  });

  it('stores a manifest byte for byte with its media type, references and link', async () => {
    const f = await openIndex(dirs);
    try {
      const bytes = Buffer.from('{"schemaVersion": 2,  "odd":\t"spacing"}\n');
      const digest = sha256(bytes);
      const mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
      f.index.putManifest({ digest, mediaType, bytes }, { blobs: [layer], manifests: [sha256('child')] }, 'hub', 'library/alpine');
      const row = f.index.manifest(digest);
      assert.ok(row);
      assert.ok(row.bytes.equals(bytes));
      assert.equal(row.mediaType, mediaType);
      assert.equal(f.index.isManifestLinked(digest, 'hub', 'library/alpine'), true);
      const refs = f.db.prepare(`SELECT kind, child FROM manifest_refs WHERE manifest = ? ORDER BY kind`).all(digest);
      assert.deepEqual(refs, [{ kind: 'blob', child: layer }, { kind: 'manifest', child: sha256('child') }]);
      assert.equal(f.index.manifest(sha256('absent')), undefined);
    } finally {
      f.close();
    }
  });

  it('a tag moves and records when the upstream last confirmed it', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putTag('hub', 'library/alpine', 'latest', sha256('one'));
      f.clock.advance(5000);
      f.index.putTag('hub', 'library/alpine', 'latest', sha256('two'));
      assert.deepEqual(f.index.tag('hub', 'library/alpine', 'latest'), {
        upstream: 'hub', repository: 'library/alpine', tag: 'latest', digest: sha256('two'), validatedAt: 1_005_000,
      });
      assert.equal(f.index.tag('hub', 'library/alpine', '3.20'), undefined);
    } finally {
      f.close();
    }
  });

  it('totals count blobs, manifests, their bytes and tags', async () => {
    const f = await openIndex(dirs);
    try {
      assert.deepEqual(f.index.totals(), { blobs: 0, blobBytes: 0, manifests: 0, manifestBytes: 0, tags: 0 });
      const image = await putImage(f.index, { ...hub, tag: 'latest' }, 'a', [['x', 100], ['y', 50]]);
      const manifestBytes = f.index.manifest(image.digest)?.bytes.length ?? 0;
      assert.deepEqual(f.index.totals(), { blobs: 2, blobBytes: 150, manifests: 1, manifestBytes, tags: 1 });
    } finally {
      f.close();
    }
  });

  it('adopts a blob only when a stored manifest references it', async () => {
    const f = await openIndex(dirs);
    try {
      const image = await putImage(f.index, hub, 'a', [['x', 10]]);
      const [referenced] = image.layers;
      assert.ok(referenced);
      f.db.prepare(`DELETE FROM blobs`).run();
      assert.equal(f.index.adoptBlob(referenced, 10), true);
      assert.equal(f.index.blob(referenced)?.size, 10);
      assert.equal(f.index.adoptBlob(sha256('stray'), 3), false);
      assert.equal(f.index.blob(sha256('stray')), undefined);
    } finally {
      f.close();
    }
  });
});

describe('SqliteCacheIndex touches', () => {
  it('a touch writes nothing until flush, then one flush writes the latest access and every hit', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      const changes = (): unknown => f.db.prepare(`SELECT total_changes()`).pluck().get();
      const before = changes();
      for (const step of [10, 20, 30]) {
        f.clock.advance(step);
        f.index.touch('blob', layer);
      }
      assert.equal(changes(), before);
      assert.deepEqual(f.index.blob(layer), { digest: layer, size: 5, storedAt: 1_000_000, lastAccess: 1_000_000, hits: 0 });
      f.index.flush();
      assert.equal(f.index.blob(layer)?.hits, 3);
      assert.equal(f.index.blob(layer)?.lastAccess, 1_000_060);
    } finally {
      f.close();
    }
  });

  it('touches reach manifests too, and a flush with nothing pending writes nothing', async () => {
    const f = await openIndex(dirs);
    try {
      const image = await putImage(f.index, hub, 'a', [['x', 1]]);
      f.clock.advance(7);
      f.index.touch('manifest', image.digest);
      f.index.flush();
      assert.equal(f.index.manifest(image.digest)?.hits, 1);
      assert.equal(f.index.manifest(image.digest)?.lastAccess, 1_000_007);
      const changes = (): unknown => f.db.prepare(`SELECT total_changes()`).pluck().get();
      const before = changes();
      f.index.flush();
      assert.equal(changes(), before);
    } finally {
      f.close();
    }
  });

  it('a flush never moves an access time backwards', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      f.clock.set(500);
      f.index.touch('blob', layer);
      f.index.flush();
      assert.equal(f.index.blob(layer)?.lastAccess, 1_000_000);
      assert.equal(f.index.blob(layer)?.hits, 1);
    } finally {
      f.close();
    }
  });

  it('the timer flushes pending touches on its own', async () => {
    const f = await openIndex(dirs, 10);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      f.index.touch('blob', layer);
      for (let i = 0; i < 100 && f.index.blob(layer)?.hits !== 1; i++) await sleep(10);
      assert.equal(f.index.blob(layer)?.hits, 1);
    } finally {
      f.close();
    }
  });

  it('close flushes, and touches after close are ignored', async () => {
    const f = await openIndex(dirs);
    f.index.putBlob(layer, 5, 'hub', 'library/alpine');
    f.index.touch('blob', layer);
    f.index.close();
    assert.equal(f.index.blob(layer)?.hits, 1);
    f.index.touch('blob', layer);
    f.index.flush();
    assert.equal(f.index.blob(layer)?.hits, 1);
    f.db.close();
  });

  it('a failed flush keeps its touches for the next one', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      f.index.touch('blob', layer);
      f.db.exec(`CREATE TRIGGER refuse BEFORE UPDATE ON blobs BEGIN SELECT RAISE(ABORT, 'refused'); END`);
      assert.throws(() => f.index.flush(), /refused/);
      f.index.touch('blob', layer);
      f.db.exec(`DROP TRIGGER refuse`);
      f.index.flush();
      assert.equal(f.index.blob(layer)?.hits, 2);
    } finally {
      f.close();
    }
  });

  it('the index is usable over a database another index wrote', async () => {
    const f = await openIndex(dirs);
    try {
      f.index.putBlob(layer, 5, 'hub', 'library/alpine');
      const second = new SqliteCacheIndex(f.db, f.clock.now);
      assert.equal(second.blob(layer)?.size, 5);
      second.close();
    } finally {
      f.close();
    }
  });
});
