// The client configuration of the admin's setup page (GET /api/setup): exact files built from the live upstreams,
// one function per client. How each client uses a mirror: docs/protocol.md, "Docker registry-mirrors",
// "containerd hosts.toml and ns" and "podman, CRI-O, skopeo, buildah: registries.conf"; docs/clients.md shows the
// same forms.
import type { Snippet } from './api-schemas.js';
import { canonicalRegistry } from '../registry/registry-names.js';

export interface SetupUpstream { name: string; registry: string; hosts: string[]; default: boolean; enabled: boolean }
export interface SetupInput {
  mirror: URL;
  upstreams: SetupUpstream[];
  /** PEM path clients should trust, if the mirror uses a private CA */
  caFile?: string;
}

/** A snippet before its client is named (clientOf). */
type Draft = Omit<Snippet, 'client'>;

/** The mirror as clients reach it. */
interface Mirror {
  scheme: 'http' | 'https';
  /** `mirror.example.com[:port]`, never a scheme. */
  root: string;
  port: string;
  /** Only for https: a CA means nothing to a plain http client. */
  caFile: string | undefined;
}

/** One enabled upstream and the names it is reached by. */
interface Route {
  upstream: SetupUpstream;
  /** `docker.io` for every Docker Hub alias. */
  registry: string;
  /** `gcr.example.com[:port]` when the upstream maps a host (routed by Host, no `ns` needed). */
  mapped: string | undefined;
  /** Whether `<mirror>/<registry>/...` can name it: the router reads a first component with a dot, or `localhost`;
   * a port's colon is not valid in a repository name. */
  prefixable: boolean;
}

const origin = (m: Mirror, host: string): string => `${m.scheme}://${host}`;
const isHub = (r: Route): boolean => r.registry === 'docker.io';

/** A double-quoted string valid in TOML (basic string), YAML and JSON: `"`, `\` and control characters escaped. */
export function quoted(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += '\\uFFFD'; // a lone surrogate has no escape in TOML
    else out += ch;
  }
  return `${out}"`;
}

const shellWord = (v: string): string => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`);

export function setupSnippets(input: SetupInput): Snippet[] {
  const secure = input.mirror.protocol === 'https:';
  const m: Mirror = {
    scheme: secure ? 'https' : 'http',
    root: input.mirror.host,
    port: input.mirror.port,
    caFile: secure ? input.caFile : undefined,
  };
  const routes = input.upstreams
    .filter((u) => u.enabled)
    .map((u): Route => {
      const registry = canonicalRegistry(u.registry);
      const host = u.hosts[0];
      const mapped = host === undefined ? undefined : m.port ? `${host}:${m.port}` : host;
      return { upstream: u, registry, mapped, prefixable: !registry.includes(':') && (registry.includes('.') || registry === 'localhost') };
    });
  if (routes.length === 0) return [];
  return [
    dockerDaemon(m, routes),
    ...routes.map((r) => containerdHosts(m, r)),
    containerdDefault(m, routes),
    registriesConf(m, routes),
    k3sRegistries(m, routes),
    kindConfig(m),
    ...routes.map((r) => imageRewrite(m, r)),
  ]
    .filter((s): s is Draft => s !== undefined)
    .map((s): Snippet => ({ ...s, client: clientOf(s.id) }))
    .concat(trustCa(m, routes));
}

/** Which client a snippet configures, from its id: the setup page groups by it. */
function clientOf(id: string): Snippet['client'] {
  if (id.startsWith('docker-')) return 'docker';
  if (id.startsWith('containerd-')) return 'containerd';
  if (id === 'registries-conf') return 'podman';
  if (id.startsWith('k3s-') || id.startsWith('kind-')) return 'kubernetes';
  return 'any';
}

/** Docker mirrors Docker Hub only, and only at a mirror's root (docs/protocol.md, "Docker registry-mirrors"). */
function dockerDaemon(m: Mirror, routes: Route[]): Draft | undefined {
  const hub = routes.find(isHub);
  const fallback = routes.find((r) => r.upstream.default);
  let host: string;
  let title: string;
  if (hub?.upstream.default) {
    host = m.root;
    title = 'Docker daemon: Docker Hub through the mirror (Docker mirrors Docker Hub only); restart dockerd';
  } else if (hub?.mapped !== undefined) {
    host = hub.mapped;
    const root = fallback === undefined ? 'has no default upstream' : `serves ${fallback.registry}`;
    title = `Docker daemon: Docker Hub through ${hub.mapped} (Docker mirrors Docker Hub only; the mirror root ${root}); restart dockerd`;
  } else if (fallback) {
    host = m.root;
    title = `Docker daemon: careful, the mirror root serves ${fallback.registry}, not Docker Hub, yet Docker sends it Docker Hub names only; map a host to a docker.io upstream instead`;
  } else {
    return undefined;
  }
  const config: Record<string, string[]> = { 'registry-mirrors': [origin(m, host)] };
  if (m.scheme === 'http') config['insecure-registries'] = [host];
  return { id: 'docker-daemon-json', title, file: '/etc/docker/daemon.json', language: 'json', content: `${JSON.stringify(config, null, 2)}\n` };
}

/** A containerd host entry: the mirror for pulls and tag resolution, never push (omitted capabilities grant it). */
function hostEntry(m: Mirror, host: string): string[] {
  const lines = [`[host.${quoted(origin(m, host))}]`, '  capabilities = ["pull", "resolve"]'];
  if (m.caFile !== undefined) lines.push(`  ca = ${quoted(m.caFile)}`);
  return lines;
}

function containerdHosts(m: Mirror, r: Route): Draft {
  const file = `/etc/containerd/certs.d/${r.registry}/hosts.toml`;
  const server = isHub(r) ? 'https://registry-1.docker.io' : `https://${r.registry}`;
  const how = r.mapped !== undefined
    ? `the mirror routes the host name ${r.mapped} to ${r.registry}`
    : `containerd adds ?ns=${r.registry} and the mirror routes by it`;
  const content = [
    `# ${r.registry} through the mirror: ${how}.`,
    '# containerd asks the mirror first and falls back to server, the registry itself. No restart needed.',
    `server = ${quoted(server)}`,
    '',
    ...hostEntry(m, r.mapped ?? m.root),
    '',
  ].join('\n');
  const title = `containerd / Kubernetes nodes: ${r.registry} through ${r.mapped ?? 'the mirror'}`;
  return { id: `containerd-hosts-${r.registry}`, title, file, language: 'toml', content, upstream: r.upstream.name };
}

function containerdDefault(m: Mirror, routes: Route[]): Draft {
  const content = [
    '# Every registry without its own directory under /etc/containerd/certs.d, through the mirror root:',
    '# containerd adds ?ns=<registry> and the mirror routes by it. The mirror serves only the registries',
    '# configured on it and refuses any other (it is not an open proxy):',
    `#   ${routes.map((r) => r.registry).join(', ')}`,
    '# A pull from another registry fails at the mirror, then goes to that registry itself (or fails where',
    '# it is unreachable): this file fits when every registry your clients pull from is configured.',
    '# No server line: the fallback is each registry itself.',
    ...hostEntry(m, m.root),
    '',
  ].join('\n');
  return {
    id: 'containerd-hosts-_default',
    title: 'containerd / Kubernetes nodes: every other registry through the mirror root (configured registries only)',
    file: '/etc/containerd/certs.d/_default/hosts.toml',
    language: 'toml',
    content,
  };
}

/** registries.conf mirror location: the mapped host, else `<mirror>/<registry>`, else the root for the default. */
function podmanLocation(m: Mirror, r: Route): string | undefined {
  if (r.mapped !== undefined) return r.mapped;
  if (r.prefixable) return `${m.root}/${r.registry}`;
  return r.upstream.default ? m.root : undefined;
}

function registriesConf(m: Mirror, routes: Route[]): Draft {
  const lines = [
    '# podman, CRI-O, skopeo, buildah: add to /etc/containers/registries.conf or save as',
    '# /etc/containers/registries.conf.d/pullgate.conf. Each mirror is tried first, then the registry itself;',
    '# a path after the mirror host names the registry.',
  ];
  for (const r of routes) {
    const location = podmanLocation(m, r);
    lines.push('');
    if (location === undefined) {
      lines.push(`# ${r.registry}: a registry name with a port is not a valid path prefix;`);
      lines.push(`# map a host to upstream ${r.upstream.name} to mirror it here.`);
      continue;
    }
    lines.push('[[registry]]', `prefix = ${quoted(r.registry)}`, `location = ${quoted(r.registry)}`, '', '[[registry.mirror]]', `location = ${quoted(location)}`);
    if (m.scheme === 'http') lines.push('insecure = true');
  }
  lines.push('');
  return {
    id: 'registries-conf',
    title: 'podman, CRI-O, skopeo, buildah: registries.conf mirrors',
    file: '/etc/containers/registries.conf',
    language: 'toml',
    content: lines.join('\n'),
  };
}

function k3sRegistries(m: Mirror, routes: Route[]): Draft {
  const lines = [
    '# k3s (RKE2: /etc/rancher/rke2/registries.yaml); restart k3s to apply. Its containerd adds ?ns=<registry>,',
    '# so the mirror root serves every configured registry; a mapped host routes by its name.',
    'mirrors:',
  ];
  for (const r of routes) lines.push(`  ${quoted(r.registry)}:`, '    endpoint:', `      - ${quoted(origin(m, r.mapped ?? m.root))}`);
  if (m.caFile !== undefined) {
    lines.push('configs:');
    const hosts = [...new Set(routes.map((r) => r.mapped ?? m.root))];
    for (const h of hosts) lines.push(`  ${quoted(h)}:`, '    tls:', `      ca_file: ${quoted(m.caFile)}`);
  }
  lines.push('');
  return {
    id: 'k3s-registries-yaml',
    title: 'k3s: registries.yaml mirrors',
    file: '/etc/rancher/k3s/registries.yaml',
    language: 'yaml',
    content: lines.join('\n'),
  };
}

/** kind nodes read hosts.toml files (the older CRI `registry.mirrors` patch is deprecated and gone in containerd 2). */
function kindConfig(m: Mirror): Draft {
  const certs = '/etc/containerd/certs.d';
  const lines = [
    '# kind: the nodes use the containerd snippets above. Save them on this machine at their paths',
    `# (${certs}/<registry>/hosts.toml); the mount shows them to the nodes, whose containerd reads them at`,
    '# each pull. kind v0.27.0+ node images set config_path already; the patch makes older ones do the same.',
    `# The nodes are containers: they must resolve and reach ${m.root} (localhost is the node itself).`,
    '# Give every worker node the same extraMounts. Use: kind create cluster --config kind-config.yaml',
    'kind: Cluster',
    'apiVersion: kind.x-k8s.io/v1alpha4',
    'containerdConfigPatches:',
    '  - |-',
    '    [plugins."io.containerd.grpc.v1.cri".registry]',
    `      config_path = ${quoted(certs)}`,
    'nodes:',
    '  - role: control-plane',
    '    extraMounts:',
    `      - hostPath: ${quoted(certs)}`,
    `        containerPath: ${quoted(certs)}`,
    '        readOnly: true',
  ];
  if (m.caFile !== undefined) {
    lines.push(`      - hostPath: ${quoted(m.caFile)}`, `        containerPath: ${quoted(m.caFile)}`, '        readOnly: true');
  }
  lines.push('');
  return { id: 'kind-config', title: 'kind: cluster config using the containerd hosts.toml files', file: 'kind-config.yaml', language: 'yaml', content: lines.join('\n') };
}

/** An example repository:tag per well-known registry; Docker Hub's `library/` is implied. */
const examples: Record<string, string> = {
  'docker.io': 'alpine:latest',
  'gcr.io': 'distroless/base:latest',
  'quay.io': 'prometheus/prometheus:latest',
  'ghcr.io': 'oras-project/oras:v1.2.0',
  'registry.k8s.io': 'pause:3.10',
  'public.ecr.aws': 'docker/library/alpine:latest',
  'mcr.microsoft.com': 'dotnet/runtime:8.0',
};

function imageRewrite(m: Mirror, r: Route): Draft {
  const base = { id: `image-rewrite-${r.upstream.name}`, file: 'command line', language: 'text' as const, upstream: r.upstream.name };
  let at: string | undefined;
  let why: string;
  if (r.mapped !== undefined) [at, why] = [r.mapped, `the mirror routes the host name ${r.mapped} to ${r.registry}`];
  else if (r.upstream.default) [at, why] = [m.root, `${r.registry} is the default upstream, served at the mirror root`];
  else if (r.prefixable) [at, why] = [`${m.root}/${r.registry}`, 'the first path component names the registry'];
  else why = 'a registry name with a port is not a valid path component';
  if (at === undefined) {
    const content = [
      `# ${r.registry} cannot be named through the mirror:`,
      `# ${why}.`,
      `# Map a host to upstream ${r.upstream.name}; containerd and k3s reach it already (?ns=${r.registry}).`,
      '',
    ].join('\n');
    return { ...base, title: `Image names: ${r.registry} needs a mapped host`, content };
  }
  const example = examples[r.registry] ?? '<repository>:<tag>';
  const original = isHub(r) ? `docker.io/library/${example}` : `${r.registry}/${example}`;
  const through = `${at}/${example}`;
  const lines = [
    `# ${r.registry} through the mirror: name ${r.registry}/<repository> as ${at}/<repository>`,
    `# (${why}${isHub(r) ? "; Docker Hub's library/ is added to single names" : ''}).`,
    `#   ${original}  ->  ${through}`,
  ];
  if (m.scheme === 'http') {
    lines.push(`# Plain http: Docker needs "insecure-registries": [${JSON.stringify(at.split('/')[0])}] in daemon.json.`);
    lines.push(`docker pull ${through}`, `podman pull --tls-verify=false ${through}`, `skopeo copy --src-tls-verify=false docker://${through} oci-archive:image.tar`);
  } else {
    lines.push(`docker pull ${through}`, `podman pull ${through}`, `skopeo copy docker://${through} oci-archive:image.tar`);
  }
  lines.push('');
  return { ...base, title: `Image names: ${r.registry} as ${at}/…`, content: lines.join('\n') };
}

/**
 * The lines that make each client trust the mirror's private CA, as `pullgate cert selfsigned` prints them: the system
 * store (Debian, Ubuntu), Docker and containers/image by host directory (docs/protocol.md, "Docker registry-mirrors"),
 * containerd by the `ca` of its hosts.toml.
 */
function trustCa(m: Mirror, routes: Route[]): Snippet[] {
  if (m.caFile === undefined) return [];
  const ca = shellWord(m.caFile);
  // Every name a client may use for the mirror: the root and the mapped hosts (daemon.json, image names).
  const hosts = [...new Set([m.root, ...routes.flatMap((r) => (r.mapped === undefined ? [] : [r.mapped]))])];
  const install = (dir: string): string => `install -D -m 0644 ${ca} ${shellWord(`${dir}/ca.crt`)}`;
  const base = { file: 'command line, as root', language: 'shell' as const };
  return [
    {
      ...base,
      id: 'trust-ca-system',
      client: 'any',
      title: "Trust the mirror's CA on the machine (Debian, Ubuntu): curl, skopeo, k3s and most tools",
      content: [`# Copy the mirror's CA certificate to ${m.caFile} on each client first.`, 'update-ca-certificates', ''].join('\n'),
    },
    {
      ...base,
      id: 'trust-ca-docker',
      client: 'docker',
      title: "Docker: trust the mirror's CA (no daemon restart)",
      content: [
        '# The classic image store reads the mirror host\'s directory, the containerd image store docker.io\'s.',
        ...hosts.map((h) => install(`/etc/docker/certs.d/${h}`)),
        install('/etc/docker/certs.d/docker.io'),
        '',
      ].join('\n'),
    },
    {
      ...base,
      id: 'trust-ca-podman',
      client: 'podman',
      title: "podman, CRI-O, skopeo, buildah: trust the mirror's CA",
      content: [...hosts.map((h) => install(`/etc/containers/certs.d/${h}`)), ''].join('\n'),
    },
    {
      ...base,
      id: 'trust-ca-containerd',
      client: 'containerd',
      title: "containerd, k3s, kind: the CA is named in each hosts.toml (ca)",
      content: [`# The hosts.toml files say ca = ${quoted(m.caFile)}: the file must be there on every node.`, `test -r ${ca} && echo "CA in place"`, ''].join('\n'),
    },
  ];
}
