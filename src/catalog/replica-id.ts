// A replica's name in the bucket (heartbeats, tag records): the host name and a random suffix, kept in the data
// directory so that a restart is the same replica, while two replicas on one host (or cloned volumes' hosts) differ.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isNotFound } from '../cache/fs-errors.js';

const valid = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export async function replicaId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'replica-id');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (valid.test(stored)) return stored;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const host = hostname().toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 100) || 'replica';
  const id = `${host}-${randomBytes(4).toString('hex')}`;
  await writeFile(file, `${id}\n`);
  return id;
}
