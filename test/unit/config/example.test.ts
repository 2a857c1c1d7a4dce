// pullgate.example.yaml documents every key: it must stay a valid configuration as the schema grows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../../src/config/load.js';

describe('pullgate.example.yaml', () => {
  it('validates against the schema', () => {
    const doc = parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'pullgate.example.yaml'), 'utf8')) as unknown;
    const c = validateConfig(doc);
    assert.ok((c.upstreams ?? []).length > 0);
    assert.equal(c.access.login, 'off');
  });
});
