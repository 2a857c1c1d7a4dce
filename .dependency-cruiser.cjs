// Folder rules of src/, checked by `npm run lint:deps` (part of `npm test`). The layering and the reason for each
// rule: docs/architecture.md, "Layers". Type-only imports count like any other: a type ties its importer to its
// folder as much as a value does.

/**
 * The layers, lowest first. A folder may import its own layer and the layers below it, never one above.
 * `paths` are relative to src/: a folder name, or a file at the top of src/.
 */
const layers = [
  {
    name: 'registry',
    paths: ['registry/', 'logger.ts', 'pretty-log.ts'],
    why: 'registry/ holds the protocol primitives (digests, names, media types, error codes) and the logger every part uses: it depends on nothing, so it reads and tests alone',
  },
  {
    name: 'signature',
    paths: ['signature/'],
    why: 'signature/ verifies signatures of bytes it is handed against a policy: a library that knows no config file, cache or network, so verification is tested offline',
  },
  {
    name: 'config',
    paths: ['config/'],
    why: 'config/ is the configuration and its value types (durations, sizes, hosts, address lists, repository patterns): it is read by everything and reads nothing above it, so `pullgate config check` runs without starting anything',
  },
  {
    name: 'tls',
    paths: ['tls/'],
    why: 'tls/ makes and reads certificates: a helper of acme/, the server and the CLI',
  },
  {
    name: 'cache',
    paths: ['cache/'],
    why: 'cache/ is one replica\'s storage (SQLite index, blob stores, eviction, secrets at rest) behind the ports in cache/ports.ts: it knows no upstream, client or HTTP, so a storage backend is added and tested alone',
  },
  {
    name: 'catalog',
    paths: ['catalog/'],
    why: 'catalog/ shares manifests and tags between replicas through the bucket, on top of cache/, and opens the local cache with it: it knows no upstream or client',
  },
  {
    name: 'upstream',
    paths: ['upstream/'],
    why: 'upstream/ is the HTTP client of upstream registries (auth, failover, redirects, the live upstream list): the mirror uses it through mirror/remote-registry.ts, so it never imports the mirror',
  },
  {
    name: 'access',
    paths: ['access/'],
    why: 'access/ decides who may pull what and how much (users, passwords, tokens, limits): rules without HTTP routes or pull logic, tested alone',
  },
  {
    name: 'mirror',
    paths: ['mirror/'],
    why: 'mirror/ holds the pull use cases (manifests, blobs, fills, prefetch): edge-neutral replies, upstreams and cluster fills behind its own interfaces (remote-registry.ts, cluster-fill-source.ts)',
  },
  {
    name: 'watch',
    paths: ['watch/'],
    why: 'watch/ runs scheduled pulls through the mirror\'s use cases; metrics, the server and the admin observe it from above',
  },
  {
    name: 'metrics',
    paths: ['metrics/'],
    why: 'metrics/ observes upstreams, the cache and watch runs; only the edges above it read it',
  },
  {
    name: 'server',
    paths: ['server/'],
    why: 'server/ is the registry\'s HTTP edge: it maps requests onto mirror use cases and errors onto HTTP once; nothing below it knows a request object',
  },
  {
    name: 'cluster, workers and acme',
    paths: ['cluster/', 'workers/', 'acme/'],
    why: 'cluster/ (replicas sharing fills), workers/ (several processes of one machine sharing fills the way replicas do, docs/workers.md) and acme/ (certificates) plug into the mirror and the server from above, wired by the app: the server never imports them',
  },
  {
    name: 'admin',
    paths: ['admin/'],
    why: 'admin/ is a client of the core: it reads and changes the core through its objects, and the core runs and is tested without it',
  },
  {
    name: 'app',
    paths: ['app/', 'app.ts', 'config-reload.ts', 'live-config.ts'],
    why: 'the app is the composition: the one place that builds the objects and wires them together; only the CLI starts it',
  },
  {
    name: 'cli',
    paths: ['cli/'],
    why: 'cli/ parses commands and calls the app or the admin API; only main.ts imports it',
  },
  {
    name: 'main',
    paths: ['main.ts'],
    why: 'main.ts is the process entry point',
  },
];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pattern = (paths) => `^src/(${paths.map((p) => (p.endsWith('/') ? escape(p) : `${escape(p)}$`)).join('|')})`;

const layerRules = layers.slice(0, -1).map((layer, i) => {
  const above = layers.slice(i + 1);
  return {
    name: `layer-${layer.name.replace(/ /g, '-')}`,
    severity: 'error',
    comment: `Layering (docs/architecture.md, "Layers"): ${layer.why}. It may not import ${above.map((l) => l.name).join(', ')}.`,
    from: { path: pattern(layer.paths) },
    to: { path: pattern(above.flatMap((l) => l.paths)) },
  };
});

/** Every file under src/ belongs to a layer; a new top-level file or folder is placed in the list above first. */
const everyPath = pattern(layers.flatMap((l) => l.paths));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles between files (type-only imports count): a cycle has no reading order, and a change on either side reaches the other. Move the shared part to a file of its own (docs/architecture.md, "Layers").',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      comment:
        'No import cycles between folders (type-only imports count): the folders form layers read bottom-up (docs/architecture.md, "Layers"). Move the type down, add a port interface in the lower folder, or move the file to where it belongs.',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'in-a-layer',
      severity: 'error',
      comment:
        'Every file under src/ belongs to a layer of .dependency-cruiser.cjs, so that the layering rules see it: place a new top-level folder or file in the list of layers (docs/architecture.md, "Layers").',
      from: { path: '^src/', pathNot: everyPath },
      to: {},
    },
    ...layerRules,
    {
      name: 'core-without-admin',
      severity: 'error',
      comment:
        'The core (everything but admin/, the app composition, cli/ and main.ts) does not import admin/: the mirror runs and is tested without its admin, and admin changes never reach a pull. Put what the core needs in the folder of its concept (docs/architecture.md, "Layers").',
      from: { path: '^src/', pathNot: pattern(['admin/', 'app/', 'app.ts', 'config-reload.ts', 'live-config.ts', 'cli/', 'main.ts']) },
      to: { path: '^src/admin/' },
    },
    {
      name: 'mirror-through-remote-registry',
      severity: 'error',
      comment:
        'The mirror uses an upstream through its RemoteRegistry interface (mirror/remote-registry.ts), never the client classes of upstream/, so the pull logic is read and tested without HTTP details (docs/architecture.md, "Layers").',
      from: { path: '^src/mirror/' },
      to: { path: '^src/upstream/(upstream|failover|upstream-endpoint|upstream-set|dispatcher|upstream-health|circuit-breaker)\\.ts$' },
    },
    {
      name: 'undici-only-in-upstream',
      severity: 'error',
      comment:
        'Only upstream/ speaks HTTP outward with undici: one place holds connection policy (dispatchers, timeouts, TLS, the redirect and private-address guards). The exception is cluster/peer-client.ts, which talks to this cluster\'s own replicas on their private peer port with its own agent and signed requests, where the upstream policy (refusing private addresses) must not apply (docs/architecture.md, "Layers").',
      from: { path: '^src/', pathNot: '^src/(upstream/|cluster/peer-client\\.ts$)' },
      to: { path: '(^|/)node_modules/undici/' },
    },
    {
      name: 'node-http-through-server',
      severity: 'error',
      comment:
        'Code takes node:http from server/node-http.ts, never by an ES import of its own (types excepted): such an import reads every export of node:http, and its WebSocket export loads Node\'s bundled undici, megabytes no part uses (docs/operating.md, "Memory").',
      from: { path: '^src/', pathNot: '^src/server/node-http\\.ts$' },
      to: { path: '^(node:)?http$', dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'sqlite-only-in-cache',
      severity: 'error',
      comment:
        'Only cache/ imports better-sqlite3: the database, its migrations and its type (cache/db.ts CacheDatabase) have one home, so a schema change is made in one folder (docs/architecture.md, "Layers").',
      from: { path: '^src/', pathNot: '^src/cache/' },
      to: { path: '(^|/)node_modules/(better-sqlite3|@types/better-sqlite3)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too (see above).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
