import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRepositoryName } from '../../../src/registry/names.js';
import { formatScope, formatScopeList, isRawScope, parseScope, parseScopeList } from '../../../src/registry/scope.js';
import { upstreamScopes } from '../../../src/upstream/token-relay.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { anyString, nameComponent, propertyOptions, repositoryName } from '../../support/grammar-arbitraries.js';
import { upstreamConfig } from '../../support/upstream-config.js';

const lowerAlnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const resourceType = fc
  .tuple(fc.array(lowerAlnum, { minLength: 1, maxLength: 10 }), fc.option(fc.array(lowerAlnum, { minLength: 1, maxLength: 6 })))
  .map(([t, cls]) => t.join('') + (cls ? `(${cls.join('')})` : ''));
const action = fc.constantFrom('pull', 'push', '*', 'delete', 'metadata_read');
/** scope.md: resourcetype ":" resourcename ":" action *( "," action ), names optionally behind `host:port/`. */
const scopeText = fc
  .tuple(
    resourceType,
    fc.oneof(repositoryName, fc.tuple(nameComponent, fc.integer({ min: 1, max: 65535 }), repositoryName).map(([h, p, n]) => `${h}:${p}/${n}`)),
    fc.array(action, { minLength: 1, maxLength: 3 }),
  )
  .map(([type, name, actions]) => ({ text: `${type}:${name}:${actions.join(',')}`, type, name, actions }));

describe('token scopes under arbitrary input', () => {
  it('parseScope and parseScopeList never throw, and reading a formatted scope gives the same scope', () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 4 }), (values) => {
        for (const scope of parseScopeList(values)) assert.deepEqual(parseScope(formatScope(scope)), scope);
        for (const value of values) parseScope(value);
      }),
      propertyOptions(2000),
    );
  });

  it('a listed scope never carries whitespace, so a joined list cannot smuggle in another scope', () => {
    fc.assert(
      fc.property(fc.array(anyString, { maxLength: 4 }), (values) => {
        for (const scope of parseScopeList(values)) assert.doesNotMatch(formatScope(scope), /\s/);
      }),
      propertyOptions(2000),
    );
  });

  it('scopes generated from the grammar round-trip, alone and as a space-separated list', () => {
    fc.assert(
      fc.property(fc.array(scopeText, { minLength: 1, maxLength: 4 }), (scopes) => {
        for (const s of scopes) {
          const parsed = parseScope(s.text);
          assert.ok(!isRawScope(parsed));
          assert.deepEqual(parsed, { type: s.type, name: s.name, actions: s.actions });
          assert.equal(formatScope(parsed), s.text);
        }
        const joined = scopes.map((s) => s.text).join(' ');
        assert.equal(formatScopeList(parseScopeList([joined])), joined);
      }),
      propertyOptions(1000),
    );
  });
});

describe('token relay scope mapping under arbitrary input', () => {
  const created: Upstream[] = [];
  after(() => Promise.all(created.map((u) => u.close())));
  const upstream = (name: string, registry: string): Upstream => {
    const config = upstreamConfig(name, registry, { auth: { mode: 'passthrough' } });
    const u = new Upstream(config, { timeouts: { connect: 1000, headers: 1000, idle: 1000 } });
    created.push(u);
    return u;
  };
  const hub = upstream('hub', 'docker.io');
  const gcr = upstream('gcr', 'gcr.io');

  it('upstreamScopes never throws and only forwards repository scopes that name a valid upstream repository', () => {
    const values = fc.array(fc.oneof(anyString, scopeText.map((s) => s.text), anyString.map((s) => `repository:${s}:pull`)), { maxLength: 5 });
    fc.assert(
      fc.property(fc.constantFrom(hub, gcr), values, (u, vs) => {
        for (const out of upstreamScopes(u, vs)) {
          assert.doesNotMatch(out, /\s/);
          const scope = parseScope(out);
          if (isRawScope(scope) || scope.type !== 'repository') continue;
          assert.ok(isRepositoryName(scope.name), `forwarded ${out}`);
          if (u === hub) assert.ok(scope.name.includes('/'), `Docker Hub scope without a namespace: ${out}`);
        }
      }),
      propertyOptions(1500),
    );
  });
});
