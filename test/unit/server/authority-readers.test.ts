import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

// Every reader of a request's host goes through src/server/request-authority.ts (docs/security.md, "Client and
// mirror"): a second reader would route, log or name realms from an unvalidated Host or miss h2's :authority.
const accessor = 'src/server/request-authority.ts';
const readers = [
  /\bheaders(?:Distinct)?\s*(?:\?\.|\.)\s*host\b/i,
  /\bheaders(?:Distinct)?\s*(?:\?\.)?\[\s*['"`](?:host|:authority)['"`]\s*\]/i,
  /\b(?:req|request|raw)\s*(?:\?\.|\.)\s*(?:host|hostname|authority)\b/,
  /['"`]:authority['"`]/,
];

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.tsx?$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe('who reads the authority a request was sent to', () => {
  it('no file in src but the accessor reads Host or :authority', async () => {
    const root = join(import.meta.dirname, '../../..');
    const offenders: string[] = [];
    for (const file of await sources(join(root, 'src'))) {
      const name = relative(root, file);
      if (name === accessor) continue;
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (readers.some((r) => r.test(line))) offenders.push(`${name}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, []);
  });

  it('the check sees the usual ways of reading it', () => {
    for (const line of ["req.headers.host", "req.headers?.host", "req.headers['host']", 'req.raw.headers[":authority"]', 'req.hostname', 'request.host', 'req.raw.authority', 'req.headersDistinct.host']) {
      assert.ok(readers.some((r) => r.test(line)), line);
    }
  });
});
