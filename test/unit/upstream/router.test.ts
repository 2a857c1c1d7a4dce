import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UpstreamConfig } from '../../../src/config/config.js';
import { RegistryError, type ErrorCode } from '../../../src/registry/errors.js';
import { canonicalRegistry } from '../../../src/registry/registry-names.js';
import { UpstreamRouter, upstreamRepository, type RouteVia } from '../../../src/upstream/router.js';
import { Upstream } from '../../../src/upstream/upstream.js';

const timeouts = { connect: 1000, headers: 1000, idle: 1000 };
const created: Upstream[] = [];

function upstream(name: string, registry: string, extra: Partial<UpstreamConfig> = {}): Upstream {
  const u = new Upstream(
    {
      name,
      registry,
      url: new URL(`https://${registry}`),
      hosts: [],
      default: false,
      auth: { mode: 'mirror' },
      offline: false,
      insecureSkipVerify: false,
      tagTtlMs: 300_000,
      mirrors: [],
      allowPrivateRedirects: false,
      directReads: true,
      retries: { attempts: 3, minDelayMs: 200, maxDelayMs: 2000 },
      circuit: { failures: 5, openForMs: 30_000 },
      ...extra,
    },
    { timeouts },
  );
  created.push(u);
  return u;
}

after(async () => {
  await Promise.all(created.map((u) => u.close()));
});

const hub = upstream('hub', 'docker.io', { url: new URL('https://registry-1.docker.io'), hosts: ['hub.mirror.test'], default: true });
const gcr = upstream('gcr', 'gcr.io', { hosts: ['gcr.mirror.test'] });
const quay = upstream('quay', 'quay.io');
const corp = upstream('corp', 'registry.corp.test:5000');
const router = new UpstreamRouter([hub, gcr, quay, corp]);
// The same registries without a default upstream (no daemon.json registry-mirrors service).
const noDefault = new UpstreamRouter([upstream('gcr2', 'gcr.io', { hosts: ['gcr.mirror.test'] }), upstream('corp2', 'registry.corp.test:5000')]);

interface Expected {
  upstream: string;
  repository: string;
  via: RouteVia;
  prefix?: string;
}

function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('UpstreamRouter.resolve', () => {
  // [name, Host header, ns, repository path as sent, expected route]
  const table: [string, string | undefined, string | undefined, string, Expected][] = [
    // 1. ns
    ['ns picks Docker Hub and adds library/', 'mirror.test', 'docker.io', 'nginx', { upstream: 'hub', repository: 'library/nginx', via: 'ns' }],
    ['ns with a port picks that registry', 'mirror.test', 'registry.corp.test:5000', 'team/app',
      { upstream: 'corp', repository: 'team/app', via: 'ns' }],
    ['ns wins over a mapped host', 'gcr.mirror.test', 'docker.io', 'nginx', { upstream: 'hub', repository: 'library/nginx', via: 'ns' }],
    ['ns never reads a path prefix', undefined, 'gcr.io', 'gcr.io/distroless/base',
      { upstream: 'gcr', repository: 'gcr.io/distroless/base', via: 'ns' }],
    ['ns index.docker.io is Docker Hub', undefined, 'index.docker.io', 'nginx', { upstream: 'hub', repository: 'library/nginx', via: 'ns' }],
    ['ns registry-1.docker.io is Docker Hub', undefined, 'registry-1.docker.io', 'bitnami/redis',
      { upstream: 'hub', repository: 'bitnami/redis', via: 'ns' }],
    ['ns registry.hub.docker.com is Docker Hub', undefined, 'registry.hub.docker.com', 'nginx',
      { upstream: 'hub', repository: 'library/nginx', via: 'ns' }],
    ['ns is matched in any case', undefined, 'GCR.IO', 'distroless/base', { upstream: 'gcr', repository: 'distroless/base', via: 'ns' }],
    ['ns on gcr does not add library/', undefined, 'gcr.io', 'busybox', { upstream: 'gcr', repository: 'busybox', via: 'ns' }],
    // 2. mapped Host
    ['a mapped host picks its upstream', 'gcr.mirror.test', undefined, 'distroless/base',
      { upstream: 'gcr', repository: 'distroless/base', via: 'host' }],
    ['a mapped host with a port picks its upstream', 'gcr.mirror.test:5443', undefined, 'distroless/base',
      { upstream: 'gcr', repository: 'distroless/base', via: 'host' }],
    ['a mapped host matches in any case', 'GCR.Mirror.Test:5443', undefined, 'distroless/base',
      { upstream: 'gcr', repository: 'distroless/base', via: 'host' }],
    ['a mapped host never reads a path prefix', 'gcr.mirror.test', undefined, 'example.com/foo',
      { upstream: 'gcr', repository: 'example.com/foo', via: 'host' }],
    ['a mapped host keeps a prefix naming another configured registry as the repository', 'gcr.mirror.test', undefined, 'quay.io/foo',
      { upstream: 'gcr', repository: 'quay.io/foo', via: 'host' }],
    ['a mapped Docker Hub host adds library/', 'hub.mirror.test', undefined, 'nginx',
      { upstream: 'hub', repository: 'library/nginx', via: 'host' }],
    ['a mapped gcr host does not add library/', 'gcr.mirror.test', undefined, 'busybox', { upstream: 'gcr', repository: 'busybox', via: 'host' }],
    // 3. path prefix on unmapped hosts
    ['a registry prefix on an unmapped host picks that registry', 'mirror.test', undefined, 'gcr.io/distroless/base',
      { upstream: 'gcr', repository: 'distroless/base', via: 'prefix', prefix: 'gcr.io' }],
    ['a registry prefix without a Host header picks that registry', undefined, undefined, 'quay.io/prometheus/node-exporter',
      { upstream: 'quay', repository: 'prometheus/node-exporter', via: 'prefix', prefix: 'quay.io' }],
    ['a registry prefix with a port picks that registry', 'mirror.test:5000', undefined, 'registry.corp.test:5000/team/app',
      { upstream: 'corp', repository: 'team/app', via: 'prefix', prefix: 'registry.corp.test:5000' }],
    ['a docker.io prefix adds library/', 'mirror.test', undefined, 'docker.io/nginx',
      { upstream: 'hub', repository: 'library/nginx', via: 'prefix', prefix: 'docker.io' }],
    ['an index.docker.io prefix is Docker Hub', 'mirror.test', undefined, 'index.docker.io/library/nginx',
      { upstream: 'hub', repository: 'library/nginx', via: 'prefix', prefix: 'index.docker.io' }],
    ['a gcr prefix with a single name does not add library/', 'mirror.test', undefined, 'gcr.io/busybox',
      { upstream: 'gcr', repository: 'busybox', via: 'prefix', prefix: 'gcr.io' }],
    // 4. default
    ['a single name on an unmapped host goes to Docker Hub with library/', 'mirror.test', undefined, 'nginx',
      { upstream: 'hub', repository: 'library/nginx', via: 'default' }],
    ['a namespaced name on an unmapped host goes to Docker Hub as is', 'mirror.test', undefined, 'bitnami/redis',
      { upstream: 'hub', repository: 'bitnami/redis', via: 'default' }],
    ['library/ is not added twice', undefined, undefined, 'library/nginx', { upstream: 'hub', repository: 'library/nginx', via: 'default' }],
    ['an undotted first component is a Docker Hub namespace, not a registry', 'mirror.test', undefined, 'distroless/base',
      { upstream: 'hub', repository: 'distroless/base', via: 'default' }],
  ];
  for (const [name, host, ns, path, expected] of table) {
    it(name, () => {
      const route = router.resolve(host, ns, path);
      const actual: Expected = { upstream: route.upstream.name, repository: route.repository, via: route.via };
      if (route.prefix !== undefined) actual.prefix = route.prefix;
      assert.deepEqual(actual, expected);
    });
  }

  const refused: [string, UpstreamRouter, string | undefined, string | undefined, string, ErrorCode][] = [
    ['an unmapped ns is NAME_UNKNOWN', router, 'mirror.test', 'evil.test', 'foo', 'NAME_UNKNOWN'],
    ['an unmapped ns is NAME_UNKNOWN even on a mapped host', router, 'gcr.mirror.test', 'ghcr.io', 'foo', 'NAME_UNKNOWN'],
    ['an IP-address ns is NAME_UNKNOWN', router, undefined, '10.0.0.1:5000', 'foo', 'NAME_UNKNOWN'],
    ['a loopback ns is NAME_UNKNOWN', router, undefined, '127.0.0.1', 'foo', 'NAME_UNKNOWN'],
    ['an empty ns is NAME_UNKNOWN', router, undefined, '', 'foo', 'NAME_UNKNOWN'],
    ['an unmapped dotted prefix is NAME_UNKNOWN', router, 'mirror.test', undefined, 'evil.test/foo/bar', 'NAME_UNKNOWN'],
    ['an IP-address prefix is NAME_UNKNOWN', router, 'mirror.test', undefined, '192.168.1.10/foo', 'NAME_UNKNOWN'],
    ['an IP-address prefix with a port is NAME_UNKNOWN', router, undefined, undefined, '192.168.1.10:5000/foo', 'NAME_UNKNOWN'],
    ['a localhost prefix is NAME_UNKNOWN', router, undefined, undefined, 'localhost/foo', 'NAME_UNKNOWN'],
    ['a localhost:port prefix is NAME_UNKNOWN', router, undefined, undefined, 'localhost:5000/foo', 'NAME_UNKNOWN'],
    ['a configured registry with the wrong port is NAME_UNKNOWN', router, undefined, undefined, 'registry.corp.test:5001/team/app',
      'NAME_UNKNOWN'],
    ['no default upstream is NAME_UNKNOWN', noDefault, 'mirror.test', undefined, 'nginx', 'NAME_UNKNOWN'],
    ['an upper-case name is NAME_INVALID', router, undefined, undefined, 'Nginx', 'NAME_INVALID'],
    ['a dot-dot component is NAME_INVALID', router, undefined, undefined, 'library/../etc', 'NAME_INVALID'],
    ['a percent-encoded name is NAME_INVALID', router, undefined, undefined, 'library%2Fnginx', 'NAME_INVALID'],
    ['an empty component is NAME_INVALID', router, undefined, undefined, 'library//nginx', 'NAME_INVALID'],
    ['an invalid name on a mapped host is NAME_INVALID', router, 'gcr.mirror.test', undefined, 'a..b', 'NAME_INVALID'],
    ['an invalid name with ns is NAME_INVALID', router, undefined, 'gcr.io', 'Distroless/base', 'NAME_INVALID'],
    ['an invalid name after a prefix is NAME_INVALID', router, undefined, undefined, 'gcr.io/Distroless', 'NAME_INVALID'],
    ['a prefix with nothing after it is NAME_INVALID', router, undefined, undefined, 'gcr.io/', 'NAME_INVALID'],
    ['a single Hub name too long for library/ is NAME_INVALID', router, undefined, undefined, 'a'.repeat(250), 'NAME_INVALID'],
  ];
  for (const [name, r, host, ns, path, code] of refused) it(name, () => throwsCode(() => r.resolve(host, ns, path), code));

  it('a router without a default still routes by prefix, host and ns', () => {
    assert.equal(noDefault.resolve('mirror.test', undefined, 'gcr.io/distroless/base').upstream.name, 'gcr2');
    assert.equal(noDefault.resolve('gcr.mirror.test', undefined, 'distroless/base').upstream.name, 'gcr2');
    assert.equal(noDefault.resolve(undefined, 'registry.corp.test:5000', 'team/app').upstream.name, 'corp2');
  });

  it('an unmapped registry is named in the error detail', () => {
    assert.throws(() => router.resolve(undefined, 'evil.test', 'foo'), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.deepEqual(err.detail, { registry: 'evil.test' });
      assert.equal(err.status, 404);
      return true;
    });
  });
});

describe('UpstreamRouter lookups', () => {
  it('forBase prefers ns, then a mapped host, then the default', () => {
    assert.equal(router.forBase('gcr.mirror.test', 'registry.corp.test:5000')?.name, 'corp');
    assert.equal(router.forBase('gcr.mirror.test:5443', undefined)?.name, 'gcr');
    assert.equal(router.forBase('mirror.test', undefined)?.name, 'hub');
    assert.equal(router.forBase(undefined, undefined)?.name, 'hub');
  });

  it('forBase refuses an unmapped ns', () => throwsCode(() => router.forBase('gcr.mirror.test', 'evil.test'), 'NAME_UNKNOWN'));

  it('forBase without a default is undefined on an unmapped host', () => assert.equal(noDefault.forBase('mirror.test', undefined), undefined));

  it('forRegistry folds Docker Hub aliases and case', () => {
    for (const name of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'Docker.IO']) {
      assert.equal(router.forRegistry(name)?.name, 'hub', name);
    }
    assert.equal(router.forRegistry('ghcr.io'), undefined);
  });

  it('forHost ignores the port and case and knows only mapped hosts', () => {
    assert.equal(router.forHost('HUB.mirror.test:80')?.name, 'hub');
    assert.equal(router.forHost('mirror.test'), undefined);
    assert.equal(router.forHost(undefined), undefined);
    assert.equal(router.forHost(''), undefined);
  });

  it('named finds an upstream by its config name', () => {
    assert.equal(router.named('quay'), quay);
    assert.equal(router.named('nope'), undefined);
  });

  it('the default upstream is the one marked default', () => {
    assert.equal(router.defaultUpstream, hub);
    assert.equal(noDefault.defaultUpstream, undefined);
  });
});

describe('canonicalRegistry', () => {
  const table: [string, string, string][] = [
    ['docker.io stays docker.io', 'docker.io', 'docker.io'],
    ['index.docker.io is docker.io', 'index.docker.io', 'docker.io'],
    ['registry-1.docker.io is docker.io', 'registry-1.docker.io', 'docker.io'],
    ['registry.hub.docker.com is docker.io', 'registry.hub.docker.com', 'docker.io'],
    ['an alias in upper case is docker.io', 'Index.Docker.IO', 'docker.io'],
    ['another registry is only lower-cased', 'GCR.io', 'gcr.io'],
    ['a port is kept', 'registry.corp.test:5000', 'registry.corp.test:5000'],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(canonicalRegistry(input), expected));
});

describe('upstreamRepository', () => {
  const table: [string, Upstream, string, string][] = [
    ['a single-segment Docker Hub name gets library/', hub, 'busybox', 'library/busybox'],
    ['a namespaced Docker Hub name is kept', hub, 'bitnami/redis', 'bitnami/redis'],
    ['a library/ Docker Hub name is kept', hub, 'library/busybox', 'library/busybox'],
    ['a single-segment gcr name is kept', gcr, 'busybox', 'busybox'],
    ['a single-segment name on a registry with a port is kept', corp, 'app', 'app'],
  ];
  for (const [name, u, input, expected] of table) it(name, () => assert.equal(upstreamRepository(u, input), expected));

  it('an invalid name is NAME_INVALID', () => throwsCode(() => upstreamRepository(gcr, 'a..b'), 'NAME_INVALID'));

  // The router treats a Docker Hub alias as Docker Hub for routing (canonicalRegistry), so it must add library/ too.
  it('an upstream configured with a Docker Hub alias adds library/', () => {
    const aliased = upstream('hub-alias', 'index.docker.io', { default: true });
    const r = new UpstreamRouter([aliased]);
    assert.equal(r.resolve(undefined, 'docker.io', 'nginx').repository, 'library/nginx');
  });
});
