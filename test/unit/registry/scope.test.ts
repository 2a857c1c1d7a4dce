import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatScope,
  formatScopeList,
  isRawScope,
  mapScopeNames,
  parseScope,
  parseScopeList,
  type AnyScope,
} from '../../../src/registry/scope.js';

const repo = (name: string, ...actions: string[]): AnyScope => ({ type: 'repository', name, actions });

describe('parseScope', () => {
  const table: [string, string, AnyScope][] = [
    ['reads a pull scope', 'repository:library/nginx:pull', repo('library/nginx', 'pull')],
    ['reads several actions', 'repository:samalba/my-app:pull,push', repo('samalba/my-app', 'pull', 'push')],
    ['keeps a host:port prefix in the name', 'repository:localhost:5000/foo/bar:pull', repo('localhost:5000/foo/bar', 'pull')],
    ['reads a registry scope with a wildcard action', 'registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    ['reads a deprecated resource class', 'repository(plugin):sample/plugin:pull',
      { type: 'repository(plugin)', name: 'sample/plugin', actions: ['pull'] }],
    ['reads an empty action list', 'repository:a:', repo('a')],
    ['drops empty actions', 'repository:a:pull,,push', repo('a', 'pull', 'push')],
    ["keeps public.ecr.aws's scope raw", 'aws', { raw: 'aws' }],
    ['keeps a scope with one colon raw', 'repository:foo', { raw: 'repository:foo' }],
    ['keeps a scope with an empty type raw', ':foo:pull', { raw: ':foo:pull' }],
    ['keeps a scope with an empty name raw', 'repository::pull', { raw: 'repository::pull' }],
    ['keeps an upper-case type raw', 'Repository:foo:pull', { raw: 'Repository:foo:pull' }],
    ['keeps an empty string raw', '', { raw: '' }],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.deepEqual(parseScope(input), expected));

  it('tells raw scopes from typed ones', () => {
    assert.equal(isRawScope(parseScope('aws')), true);
    assert.equal(isRawScope(parseScope('repository:a:pull')), false);
  });
});

describe('parseScopeList', () => {
  const table: [string, string[], AnyScope[]][] = [
    ['reads one scope per repeated param, as containerd sends them', ['repository:library/nginx:pull', 'repository:nginx:pull'],
      [repo('library/nginx', 'pull'), repo('nginx', 'pull')]],
    ['splits one space-separated value, as the OAuth2 POST sends it', ['repository:a:pull repository:b:pull,push'],
      [repo('a', 'pull'), repo('b', 'pull', 'push')]],
    ['ignores extra whitespace and empty values', ['  repository:a:pull  ', '', 'aws\trepository:b:push'],
      [repo('a', 'pull'), { raw: 'aws' }, repo('b', 'push')]],
    ['returns nothing for no values', [], []],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.deepEqual(parseScopeList(input), expected));
});

describe('formatScope', () => {
  const roundTrips = [
    'repository:library/nginx:pull',
    'repository:samalba/my-app:pull,push',
    'repository:localhost:5000/foo/bar:pull',
    'registry:catalog:*',
    'repository(plugin):sample/plugin:pull',
    'repository:a:',
    'aws',
    'repository:foo',
  ];
  for (const value of roundTrips) it(`round-trips "${value}"`, () => assert.equal(formatScope(parseScope(value)), value));

  it('joins a list with spaces, as a challenge scope param carries it', () => {
    const scopes = [repo('a', 'pull'), { raw: 'aws' }, repo('b', 'pull', 'push')];
    assert.equal(formatScopeList(scopes), 'repository:a:pull aws repository:b:pull,push');
    assert.deepEqual(parseScopeList([formatScopeList(scopes)]), scopes);
  });

  it('formats an empty list as an empty string', () => assert.equal(formatScopeList([]), ''));
});

describe('mapScopeNames', () => {
  const addLibrary = (name: string): string => (name.includes('/') ? name : `library/${name}`);
  const stripPrefix = (name: string): string | undefined => (name.startsWith('gcr.io/') ? name.slice('gcr.io/'.length) : undefined);
  const untouched: AnyScope[] = [
    { type: 'registry', name: 'catalog', actions: ['*'] },
    { raw: 'aws' },
    { type: 'repository(plugin)', name: 'p', actions: ['pull'] },
  ];
  const table: [string, AnyScope[], (name: string) => string | undefined, AnyScope[]][] = [
    ['adds library/ to single-segment Docker Hub names', [repo('busybox', 'pull'), repo('bitnami/redis', 'pull')], addLibrary,
      [repo('library/busybox', 'pull'), repo('bitnami/redis', 'pull')]],
    ['strips a path prefix', [repo('gcr.io/distroless/static', 'pull')], stripPrefix, [repo('distroless/static', 'pull')]],
    ['drops a scope whose name the function rejects', [repo('gcr.io/a', 'pull'), repo('quay.io/b', 'pull')], stripPrefix,
      [repo('a', 'pull')]],
    ['leaves non-repository and raw scopes untouched', untouched, stripPrefix, structuredClone(untouched)],
  ];
  for (const [name, input, fn, expected] of table) it(name, () => assert.deepEqual(mapScopeNames(input, fn), expected));

  it('calls the function only for repository names and leaves its input unchanged', () => {
    const input = [repo('nginx', 'pull'), { raw: 'aws' }, { type: 'registry', name: 'catalog', actions: ['*'] }];
    const before = structuredClone(input);
    const seen: string[] = [];
    mapScopeNames(input, (name) => (seen.push(name), `x/${name}`));
    assert.deepEqual(seen, ['nginx']);
    assert.deepEqual(input, before);
  });
});
