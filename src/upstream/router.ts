// Which upstream a request is for (docs/architecture.md, "Decision: four ways in, one cache"): `?ns=` first, then a
// mapped Host, then (on the mirror root and unmapped hosts only) a path prefix naming a configured registry, then the
// default upstream. Every way is a lookup into the configured upstreams: nothing else is ever dialled.
import { hostWithoutPort } from '../config/hosts.js';
import { isDockerHub } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { parseRepositoryName, type RepositoryName } from '../registry/names.js';
import { canonicalRegistry } from '../registry/registry-names.js';
import type { Upstream } from './upstream.js';

export type RouteVia = 'ns' | 'host' | 'prefix' | 'default';

export interface Route {
  upstream: Upstream;
  /** The repository name on the upstream (`library/` added for Docker Hub). */
  repository: RepositoryName;
  via: RouteVia;
  /** The registry prefix the client put in front of the repository, when routed by prefix. */
  prefix?: string;
}

export class UpstreamRouter {
  private readonly byRegistry = new Map<string, Upstream>();
  private readonly byHost = new Map<string, Upstream>();
  private readonly byName = new Map<string, Upstream>();
  readonly defaultUpstream: Upstream | undefined;

  constructor(readonly upstreams: readonly Upstream[]) {
    for (const u of upstreams) {
      this.byRegistry.set(canonicalRegistry(u.config.registry), u);
      this.byName.set(u.name, u);
      for (const h of u.config.hosts) this.byHost.set(h, u);
    }
    this.defaultUpstream = upstreams.find((u) => u.config.default);
  }

  /** The hostnames mapped to upstreams, in configuration order. */
  get hosts(): string[] {
    return [...this.byHost.keys()];
  }

  named(name: string): Upstream | undefined {
    return this.byName.get(name);
  }

  forRegistry(registry: string): Upstream | undefined {
    return this.byRegistry.get(canonicalRegistry(registry));
  }

  forHost(host: string | undefined): Upstream | undefined {
    return host ? this.byHost.get(hostWithoutPort(host)) : undefined;
  }

  /** The upstream answering `/v2/` itself: by ns, by host, else the default. */
  forBase(host: string | undefined, ns: string | undefined): Upstream | undefined {
    if (ns !== undefined) return this.requireNs(ns);
    return this.forHost(host) ?? this.defaultUpstream;
  }

  resolve(host: string | undefined, ns: string | undefined, path: string): Route {
    if (ns !== undefined) return this.route(this.requireNs(ns), path, 'ns');
    const mapped = this.forHost(host);
    // A mapped host never reads a prefix: gcr.io repositories may legitimately start with `example.com/`.
    if (mapped) return this.route(mapped, path, 'host');
    const slash = path.indexOf('/');
    const first = slash === -1 ? '' : path.slice(0, slash);
    // Docker Hub namespaces never contain a dot or a colon, so such a first component names a registry.
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      const upstream = this.forRegistry(first);
      if (!upstream) throw notMirrored(first);
      return { ...this.route(upstream, path.slice(slash + 1), 'prefix'), prefix: first };
    }
    if (!this.defaultUpstream) throw new RegistryError('NAME_UNKNOWN', 'no default upstream is configured on this mirror');
    return this.route(this.defaultUpstream, path, 'default');
  }

  private requireNs(ns: string): Upstream {
    const upstream = this.forRegistry(ns);
    if (!upstream) throw notMirrored(ns);
    return upstream;
  }

  private route(upstream: Upstream, path: string, via: RouteVia): Route {
    return { upstream, repository: upstreamRepository(upstream, path), via };
  }
}

function notMirrored(registry: string): RegistryError {
  return new RegistryError('NAME_UNKNOWN', 'this registry is not mirrored here', { detail: { registry: registry.slice(0, 256) } });
}

/** The one place Docker Hub's implicit `library/` namespace is added. */
export function upstreamRepository(upstream: Upstream, name: string): RepositoryName {
  const repository = parseRepositoryName(name);
  if (isDockerHub(upstream.config) && !repository.includes('/')) return parseRepositoryName(`library/${repository}`);
  return repository;
}
