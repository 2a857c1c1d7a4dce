import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { upstreamScopes } from '../../../src/upstream/token-relay.js';
import { Upstream } from '../../../src/upstream/upstream.js';
import { upstreamConfig } from '../../support/upstream-config.js';

const created: Upstream[] = [];

function upstream(name: string, registry: string): Upstream {
  const config = upstreamConfig(name, registry, { auth: { mode: 'passthrough' } });
  const u = new Upstream(config, { timeouts: { connect: 1000, headers: 1000, idle: 1000 } });
  created.push(u);
  return u;
}

after(async () => {
  await Promise.all(created.map((u) => u.close()));
});

const hub = upstream('hub', 'docker.io');
const gcr = upstream('gcr', 'gcr.io');
const corp = upstream('corp', 'registry.corp.test:5000');
const ecr = upstream('ecr-public', 'public.ecr.aws');

describe('upstreamScopes', () => {
  const table: [string, Upstream, string[], string[]][] = [
    ['adds library/ to a single Docker Hub name', hub, ['repository:busybox:pull'], ['repository:library/busybox:pull']],
    ['keeps a namespaced Docker Hub name', hub, ['repository:bitnami/redis:pull'], ['repository:bitnami/redis:pull']],
    ['strips a docker.io/ prefix and adds library/', hub, ['repository:docker.io/busybox:pull'], ['repository:library/busybox:pull']],
    ['strips the gcr.io/ prefix for the gcr upstream', gcr, ['repository:gcr.io/distroless/base:pull'], ['repository:distroless/base:pull']],
    ['does not add library/ on gcr', gcr, ['repository:busybox:pull'], ['repository:busybox:pull']],
    ['strips a host:port prefix', corp, ['repository:registry.corp.test:5000/team/app:pull'], ['repository:team/app:pull']],
    ['keeps every action', gcr, ['repository:gcr.io/a/b:pull,push'], ['repository:a/b:pull,push']],
    ["keeps public.ecr.aws's raw scope", ecr, ['aws'], ['aws']],
    ['keeps a registry scope', hub, ['registry:catalog:*'], ['registry:catalog:*']],
    ['drops an upper-case name', hub, ['repository:Busybox:pull', 'repository:alpine:pull'], ['repository:library/alpine:pull']],
    ['drops a dot-dot name', gcr, ['repository:gcr.io/../etc:pull'], []],
    ['drops a name that is only the prefix', gcr, ['repository:gcr.io/:pull'], []],
    ['removes duplicates after mapping', hub, ['repository:busybox:pull', 'repository:library/busybox:pull', 'repository:docker.io/busybox:pull'],
      ['repository:library/busybox:pull']],
    ['reads a space-separated OAuth2 scope', hub, ['repository:busybox:pull repository:bitnami/redis:pull'],
      ['repository:library/busybox:pull', 'repository:bitnami/redis:pull']],
    ["reads containerd's repeated scopes, some naming other repositories", hub,
      ['repository:library/nginx:pull', 'repository:nginx:pull', 'repository:alpine:pull'],
      ['repository:library/nginx:pull', 'repository:library/alpine:pull']],
    ['keeps the order of first appearance', gcr, ['repository:b:pull', 'aws', 'repository:a:pull'], ['repository:b:pull', 'aws', 'repository:a:pull']],
    ['returns nothing for no scopes', hub, [], []],
    ['returns nothing for an empty scope', hub, [''], []],
  ];
  for (const [name, u, input, expected] of table) it(name, () => assert.deepEqual(upstreamScopes(u, input), expected));

  // The router sends a Docker Hub alias prefix to Docker Hub (router.ts canonicalRegistry), so a podman client with
  // `location = "mirror.test/index.docker.io"` asks for scopes with that prefix.
  it('strips a Docker Hub alias prefix like docker.io/', () => {
    assert.deepEqual(upstreamScopes(hub, ['repository:index.docker.io/library/busybox:pull']), ['repository:library/busybox:pull']);
  });
});
