import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { setupView, type Snippet } from '../../src/admin/api-schemas.js';
import { quoted, setupSnippets, type SetupUpstream } from '../../src/admin/setup-snippets.js';
import { parseTomlSubset, type TomlTable } from '../support/toml-subset.js';

const upstream = (name: string, registry: string, extra: Partial<SetupUpstream> = {}): SetupUpstream => ({
  name,
  registry,
  hosts: [],
  default: false,
  enabled: true,
  ...extra,
});

// Docker Hub the default, gcr.io by its mapped host, quay.io unmapped (ns / path prefix), ghcr.io disabled.
const upstreams = [
  upstream('hub', 'docker.io', { default: true }),
  upstream('gcr', 'gcr.io', { hosts: ['gcr.example.com'] }),
  upstream('quay', 'quay.io'),
  upstream('ghcr', 'ghcr.io', { hosts: ['ghcr.example.com'], enabled: false }),
];
const caFile = '/etc/pullgate/ca.pem';
const https = setupSnippets({ mirror: new URL('https://mirror.example.com'), upstreams, caFile });
const http = setupSnippets({ mirror: new URL('http://mirror.example.com:5000/'), upstreams, caFile });

function byId(snippets: Snippet[], id: string): Snippet {
  const found = snippets.find((s) => s.id === id);
  assert.ok(found, `no snippet ${id}; ids: ${snippets.map((s) => s.id).join(', ')}`);
  return found;
}
const toml = (snippets: Snippet[], id: string): TomlTable => parseTomlSubset(byId(snippets, id).content);
const yaml = (snippets: Snippet[], id: string): unknown => parseYaml(byId(snippets, id).content);
const json = (snippets: Snippet[], id: string): unknown => JSON.parse(byId(snippets, id).content);
const lines = (s: Snippet): string[] => s.content.split('\n');

describe('setupSnippets for Docker Hub (default), gcr.io mapped to gcr.example.com, quay.io unmapped, ghcr.io disabled', () => {
  it('produces one snippet per client file, in a stable order, with unique ids that the API schema accepts', () => {
    assert.deepEqual(https.map((s) => s.id), [
      'docker-daemon-json',
      'containerd-hosts-docker.io',
      'containerd-hosts-gcr.io',
      'containerd-hosts-quay.io',
      'containerd-hosts-_default',
      'registries-conf',
      'k3s-registries-yaml',
      'kind-config',
      'image-rewrite-hub',
      'image-rewrite-gcr',
      'image-rewrite-quay',
      'trust-ca-system',
      'trust-ca-docker',
      'trust-ca-podman',
      'trust-ca-containerd',
    ]);
    // Each is for one client (the setup page groups by it).
    assert.deepEqual(
      Object.fromEntries(https.map((s) => [s.id, s.client])),
      {
        'docker-daemon-json': 'docker',
        'containerd-hosts-docker.io': 'containerd',
        'containerd-hosts-gcr.io': 'containerd',
        'containerd-hosts-quay.io': 'containerd',
        'containerd-hosts-_default': 'containerd',
        'registries-conf': 'podman',
        'k3s-registries-yaml': 'kubernetes',
        'kind-config': 'kubernetes',
        'image-rewrite-hub': 'any',
        'image-rewrite-gcr': 'any',
        'image-rewrite-quay': 'any',
        'trust-ca-system': 'any',
        'trust-ca-docker': 'docker',
        'trust-ca-podman': 'podman',
        'trust-ca-containerd': 'containerd',
      },
    );
    assert.equal(new Set(https.map((s) => s.id)).size, https.length);
    setupView.parse({ mirror: 'https://mirror.example.com', mirrorFrom: 'query', candidates: [], warnings: [], snippets: https });
    for (const s of https) assert.ok(s.content.endsWith('\n'), `${s.id} does not end with a newline`);
  });

  it('leaves the disabled upstream out of every snippet', () => {
    for (const s of [...https, ...http]) {
      assert.ok(!s.content.includes('ghcr'), `${s.id} mentions the disabled ghcr.io upstream`);
      assert.notEqual(s.upstream, 'ghcr');
    }
  });

  it('points daemon.json registry-mirrors at the mirror root, Docker Hub being the default upstream', () => {
    const daemon = byId(https, 'docker-daemon-json');
    assert.equal(daemon.file, '/etc/docker/daemon.json');
    assert.equal(daemon.language, 'json');
    assert.deepEqual(json(https, 'docker-daemon-json'), { 'registry-mirrors': ['https://mirror.example.com'] });
    assert.match(daemon.title, /Docker Hub only/);
  });

  it('writes a containerd hosts.toml per registry: the upstream as server, the mapped host or the mirror root for pull and resolve, the CA', () => {
    const pullResolve = { capabilities: ['pull', 'resolve'], ca: caFile };
    assert.deepEqual(toml(https, 'containerd-hosts-docker.io'), {
      server: 'https://registry-1.docker.io',
      host: { 'https://mirror.example.com': pullResolve },
    });
    assert.deepEqual(toml(https, 'containerd-hosts-gcr.io'), { server: 'https://gcr.io', host: { 'https://gcr.example.com': pullResolve } });
    assert.deepEqual(toml(https, 'containerd-hosts-quay.io'), { server: 'https://quay.io', host: { 'https://mirror.example.com': pullResolve } });
    const quay = byId(https, 'containerd-hosts-quay.io');
    assert.equal(quay.file, '/etc/containerd/certs.d/quay.io/hosts.toml');
    assert.equal(quay.upstream, 'quay');
    assert.ok(lines(quay).includes('# quay.io through the mirror: containerd adds ?ns=quay.io and the mirror routes by it.'));
    assert.ok(lines(byId(https, 'containerd-hosts-gcr.io')).includes('[host."https://gcr.example.com"]'));
    for (const s of https) assert.ok(!s.content.includes('skip_verify'), `${s.id} turns off TLS verification`);
  });

  it('writes a _default hosts.toml for every other registry at the mirror root, without a server, saying only configured registries are served', () => {
    const d = byId(https, 'containerd-hosts-_default');
    assert.equal(d.file, '/etc/containerd/certs.d/_default/hosts.toml');
    assert.deepEqual(parseTomlSubset(d.content), { host: { 'https://mirror.example.com': { capabilities: ['pull', 'resolve'], ca: caFile } } });
    assert.ok(lines(d).includes('#   docker.io, gcr.io, quay.io'));
    assert.match(d.content, /not an open proxy/);
  });

  it('writes registries.conf with a mirror per registry: the mapped host, else the path prefix form, never a scheme', () => {
    const conf = byId(https, 'registries-conf');
    assert.equal(conf.file, '/etc/containers/registries.conf');
    assert.deepEqual(toml(https, 'registries-conf'), {
      registry: [
        { prefix: 'docker.io', location: 'docker.io', mirror: [{ location: 'mirror.example.com/docker.io' }] },
        { prefix: 'gcr.io', location: 'gcr.io', mirror: [{ location: 'gcr.example.com' }] },
        { prefix: 'quay.io', location: 'quay.io', mirror: [{ location: 'mirror.example.com/quay.io' }] },
      ],
    });
    assert.ok(!conf.content.includes('://'));
  });

  it('writes k3s registries.yaml with an endpoint per registry and the CA for each mirror host', () => {
    assert.deepEqual(yaml(https, 'k3s-registries-yaml'), {
      mirrors: {
        'docker.io': { endpoint: ['https://mirror.example.com'] },
        'gcr.io': { endpoint: ['https://gcr.example.com'] },
        'quay.io': { endpoint: ['https://mirror.example.com'] },
      },
      configs: {
        'mirror.example.com': { tls: { ca_file: caFile } },
        'gcr.example.com': { tls: { ca_file: caFile } },
      },
    });
    assert.equal(byId(https, 'k3s-registries-yaml').file, '/etc/rancher/k3s/registries.yaml');
  });

  it('writes a kind config that sets containerd\'s config_path and mounts the hosts.toml directory and the CA into the node', () => {
    const kind = yaml(https, 'kind-config') as {
      kind: string;
      apiVersion: string;
      containerdConfigPatches: string[];
      nodes: { role: string; extraMounts: { hostPath: string; containerPath: string; readOnly: boolean }[] }[];
    };
    assert.equal(kind.kind, 'Cluster');
    assert.equal(kind.apiVersion, 'kind.x-k8s.io/v1alpha4');
    const [patch] = kind.containerdConfigPatches;
    assert.ok(patch !== undefined);
    assert.deepEqual(parseTomlSubset(patch), { plugins: { 'io.containerd.grpc.v1.cri': { registry: { config_path: '/etc/containerd/certs.d' } } } });
    assert.deepEqual(kind.nodes, [
      {
        role: 'control-plane',
        extraMounts: [
          { hostPath: '/etc/containerd/certs.d', containerPath: '/etc/containerd/certs.d', readOnly: true },
          { hostPath: caFile, containerPath: caFile, readOnly: true },
        ],
      },
    ]);
  });

  it('names images through the mirror: the mapped host, the mirror root for the default upstream, the path prefix otherwise', () => {
    const hub = lines(byId(https, 'image-rewrite-hub'));
    assert.ok(hub.includes('#   docker.io/library/alpine:latest  ->  mirror.example.com/alpine:latest'));
    assert.ok(hub.includes('docker pull mirror.example.com/alpine:latest'));
    assert.ok(hub.includes('podman pull mirror.example.com/alpine:latest'));
    assert.ok(hub.includes('skopeo copy docker://mirror.example.com/alpine:latest oci-archive:image.tar'));
    const gcr = lines(byId(https, 'image-rewrite-gcr'));
    assert.ok(gcr.includes('#   gcr.io/distroless/base:latest  ->  gcr.example.com/distroless/base:latest'));
    assert.ok(gcr.includes('docker pull gcr.example.com/distroless/base:latest'));
    const quay = lines(byId(https, 'image-rewrite-quay'));
    assert.ok(quay.includes('#   quay.io/prometheus/prometheus:latest  ->  mirror.example.com/quay.io/prometheus/prometheus:latest'));
    assert.ok(quay.includes('podman pull mirror.example.com/quay.io/prometheus/prometheus:latest'));
    assert.equal(byId(https, 'image-rewrite-quay').upstream, 'quay');
  });

  it('tells Docker and containers/image to trust the CA in the directory of every mirror host name', () => {
    const trust = [...lines(byId(https, 'trust-ca-docker')), ...lines(byId(https, 'trust-ca-podman'))];
    assert.ok(lines(byId(https, 'trust-ca-system')).includes('update-ca-certificates'));
    for (const dir of [
      '/etc/docker/certs.d/mirror.example.com',
      '/etc/docker/certs.d/gcr.example.com',
      '/etc/docker/certs.d/docker.io',
      '/etc/containers/certs.d/mirror.example.com',
      '/etc/containers/certs.d/gcr.example.com',
    ]) {
      assert.ok(trust.includes(`install -D -m 0644 ${caFile} ${dir}/ca.crt`), `no install line for ${dir}`);
    }
  });
});

describe('setupSnippets for a plain http mirror on port 5000', () => {
  it('adds insecure-registries to daemon.json', () => {
    assert.deepEqual(json(http, 'docker-daemon-json'), {
      'registry-mirrors': ['http://mirror.example.com:5000'],
      'insecure-registries': ['mirror.example.com:5000'],
    });
  });

  it('marks every registries.conf mirror insecure, with the port and without a scheme', () => {
    const conf = toml(http, 'registries-conf') as { registry: { mirror: { location: string; insecure: boolean }[] }[] };
    assert.deepEqual(conf.registry.map((r) => r.mirror), [
      [{ location: 'mirror.example.com:5000/docker.io', insecure: true }],
      [{ location: 'gcr.example.com:5000', insecure: true }],
      [{ location: 'mirror.example.com:5000/quay.io', insecure: true }],
    ]);
  });

  it('gives containerd and k3s http:// hosts with the port and no CA, and drops the CA snippet', () => {
    assert.deepEqual(toml(http, 'containerd-hosts-gcr.io'), { server: 'https://gcr.io', host: { 'http://gcr.example.com:5000': { capabilities: ['pull', 'resolve'] } } });
    assert.deepEqual(toml(http, 'containerd-hosts-_default'), { host: { 'http://mirror.example.com:5000': { capabilities: ['pull', 'resolve'] } } });
    assert.deepEqual(yaml(http, 'k3s-registries-yaml'), {
      mirrors: {
        'docker.io': { endpoint: ['http://mirror.example.com:5000'] },
        'gcr.io': { endpoint: ['http://gcr.example.com:5000'] },
        'quay.io': { endpoint: ['http://mirror.example.com:5000'] },
      },
    });
    assert.equal(http.find((s) => s.id.startsWith('trust-ca')), undefined);
    assert.ok(http.every((s) => !s.content.includes(caFile)), 'a plain http snippet names the CA');
  });

  it('pulls image names without TLS verification', () => {
    const hub = lines(byId(http, 'image-rewrite-hub'));
    assert.ok(hub.includes('podman pull --tls-verify=false mirror.example.com:5000/alpine:latest'));
    assert.ok(hub.includes('skopeo copy --src-tls-verify=false docker://mirror.example.com:5000/alpine:latest oci-archive:image.tar'));
    assert.ok(hub.includes('# Plain http: Docker needs "insecure-registries": ["mirror.example.com:5000"] in daemon.json.'));
  });
});

describe('setupSnippets for other configurations', () => {
  it('returns nothing when no upstream is enabled', () => {
    assert.deepEqual(setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('hub', 'docker.io', { default: true, enabled: false })] }), []);
  });

  it('names Docker Hub by any of its aliases as docker.io', () => {
    const s = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('hub', 'registry-1.docker.io', { default: true })] });
    assert.deepEqual(toml(s, 'containerd-hosts-docker.io').server, 'https://registry-1.docker.io');
  });

  it('sends daemon.json to Docker Hub\'s mapped host when another upstream is the default, and says so', () => {
    const s = setupSnippets({
      mirror: new URL('https://m.test'),
      upstreams: [upstream('corp', 'registry.corp.test', { default: true }), upstream('hub', 'docker.io', { hosts: ['hub.m.test'] })],
    });
    assert.deepEqual(json(s, 'docker-daemon-json'), { 'registry-mirrors': ['https://hub.m.test'] });
    assert.match(byId(s, 'docker-daemon-json').title, /the mirror root serves registry\.corp\.test/);
    assert.ok(lines(byId(s, 'image-rewrite-corp')).includes('docker pull m.test/<repository>:<tag>'));
  });

  it('warns in the daemon.json title when the mirror root serves a registry that is not Docker Hub', () => {
    const s = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('corp', 'registry.corp.test', { default: true }), upstream('hub', 'docker.io')] });
    assert.deepEqual(json(s, 'docker-daemon-json'), { 'registry-mirrors': ['https://m.test'] });
    assert.match(byId(s, 'docker-daemon-json').title, /serves registry\.corp\.test, not Docker Hub/);
  });

  it('has no daemon.json when neither Docker Hub nor any default upstream can answer Docker', () => {
    const s = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('quay', 'quay.io')] });
    assert.equal(s.find((x) => x.id === 'docker-daemon-json'), undefined);
  });

  it('reaches a registry with a port through ns only: no path prefix for podman or image names until a host is mapped', () => {
    const s = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('hub', 'docker.io', { default: true }), upstream('corp', 'registry.corp.test:5000')] });
    const hosts = byId(s, 'containerd-hosts-registry.corp.test:5000');
    assert.equal(hosts.file, '/etc/containerd/certs.d/registry.corp.test:5000/hosts.toml');
    assert.deepEqual(parseTomlSubset(hosts.content), { server: 'https://registry.corp.test:5000', host: { 'https://m.test': { capabilities: ['pull', 'resolve'] } } });
    const conf = toml(s, 'registries-conf') as { registry: { prefix: string }[] };
    assert.deepEqual(conf.registry.map((r) => r.prefix), ['docker.io']);
    assert.match(byId(s, 'registries-conf').content, /# registry\.corp\.test:5000: a registry name with a port is not a valid path prefix;/);
    assert.match(byId(s, 'image-rewrite-corp').title, /needs a mapped host/);
    const mapped = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('corp', 'registry.corp.test:5000', { hosts: ['corp.m.test'] })] });
    assert.deepEqual(toml(mapped, 'registries-conf'), {
      registry: [{ prefix: 'registry.corp.test:5000', location: 'registry.corp.test:5000', mirror: [{ location: 'corp.m.test' }] }],
    });
  });

  it('quotes a CA path with quotes, backslashes and spaces correctly in TOML, YAML and shell', () => {
    const odd = '/etc/pull "gate"\\ca\u0001.pem';
    const s = setupSnippets({ mirror: new URL('https://m.test'), upstreams: [upstream('hub', 'docker.io', { default: true })], caFile: odd });
    assert.equal((toml(s, 'containerd-hosts-docker.io').host as Record<string, { ca: string }>)['https://m.test']?.ca, odd);
    assert.deepEqual(yaml(s, 'k3s-registries-yaml'), { mirrors: { 'docker.io': { endpoint: ['https://m.test'] } }, configs: { 'm.test': { tls: { ca_file: odd } } } });
    assert.ok(lines(byId(s, 'trust-ca-docker')).includes(`install -D -m 0644 '/etc/pull "gate"\\ca\u0001.pem' /etc/docker/certs.d/m.test/ca.crt`));
  });

  it('quotes strings the same way for TOML, YAML and JSON', () => {
    assert.equal(quoted('a"b\\c\n\u007f'), '"a\\"b\\\\c\\u000a\\u007f"');
    assert.equal(JSON.parse(quoted('a"b\\c\n\u007f')), 'a"b\\c\n\u007f');
    assert.equal(quoted('\ud800'), '"\\uFFFD"');
  });
});

describe('the TOML reader the snippet tests rely on (test/support/toml-subset.ts)', () => {
  it('rejects unterminated strings, bare values, trailing text, duplicate keys and tables defined twice', () => {
    for (const bad of ['a = "x', 'a = x', 'a = "b" c', 'a = 1\na = 2', '[t]\n[t]', '[t', 'a = "\\q"']) {
      assert.throws(() => parseTomlSubset(bad), /TOML line/, JSON.stringify(bad));
    }
  });
});
