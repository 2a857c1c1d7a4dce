// The blob store conformance suite (test/support/blob-store-conformance.ts) against the local disk store.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskBlobStore } from '../../src/cache/disk-blob-store.js';
import { DiskTempFiles } from '../../src/cache/temp-files.js';
import { describeBlobStore } from '../support/blob-store-conformance.js';

describeBlobStore('disk', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'pullgate-disk-store-'));
  return {
    store: new DiskBlobStore(dataDir),
    temp: new DiskTempFiles(dataDir),
    close: () => rm(dataDir, { recursive: true, force: true }),
  };
});
