// The cache schema, as an ordered list of steps. Step N (1-based) moves the database to `PRAGMA user_version = N`.
// Append only: a released step is never edited, because databases in the field have already run it.

export interface Migration {
  /** What the step does, for logs and for the reader. */
  name: string;
  sql: string;
}

// Times are integer epoch milliseconds. Digests are stored as text ("sha256:<hex>"), validated before they get here.
const initialSchema = `
CREATE TABLE blobs (
  digest      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL CHECK (size >= 0),
  stored_at   INTEGER NOT NULL,
  last_access INTEGER NOT NULL,
  hits        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE manifests (
  digest      TEXT PRIMARY KEY,
  media_type  TEXT NOT NULL,
  bytes       BLOB NOT NULL,
  size        INTEGER NOT NULL CHECK (size >= 0),
  stored_at   INTEGER NOT NULL,
  last_access INTEGER NOT NULL,
  hits        INTEGER NOT NULL DEFAULT 0
);

-- What a stored manifest refers to. A child need not be stored: a pull of one platform never fetches the others,
-- and a manifest is stored before its layers are fetched.
CREATE TABLE manifest_refs (
  manifest TEXT NOT NULL REFERENCES manifests (digest) ON DELETE CASCADE,
  kind     TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  child    TEXT NOT NULL,
  PRIMARY KEY (manifest, kind, child)
) WITHOUT ROWID;
CREATE INDEX manifest_refs_by_child ON manifest_refs (child, kind);

-- tag -> digest as the upstream last confirmed it. The manifest may not be stored (yet).
CREATE TABLE tags (
  upstream     TEXT NOT NULL,
  repository   TEXT NOT NULL,
  tag          TEXT NOT NULL,
  digest       TEXT NOT NULL,
  validated_at INTEGER NOT NULL,
  PRIMARY KEY (upstream, repository, tag)
) WITHOUT ROWID;
CREATE INDEX tags_by_digest ON tags (digest);

-- Which repositories each digest was pulled under: access in passthrough mode follows the repository
-- (docs/architecture.md, "Decision: access follows the repository"), and a link keeps what was pulled by digest without
-- a tag (see retention.ts).
CREATE TABLE links (
  kind       TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
  digest     TEXT NOT NULL,
  upstream   TEXT NOT NULL,
  repository TEXT NOT NULL,
  PRIMARY KEY (upstream, repository, kind, digest)
) WITHOUT ROWID;
CREATE INDEX links_by_digest ON links (digest, kind);
`;

// The admin's state lives next to the cache index: one database file in the data directory.
const adminSchema = `
-- Small settings: the admin password hash, the secret key's check value.
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- Login sessions: only a hash of the cookie value is kept.
CREATE TABLE admin_sessions (
  id_hash    TEXT PRIMARY KEY,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- API tokens for scripts: only a hash of the token is kept.
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
) WITHOUT ROWID;

-- Upstreams added through the admin API. settings is the JSON of the non-secret fields; the password is
-- encrypted with the data directory's secret key.
CREATE TABLE upstream_sources (
  name         TEXT PRIMARY KEY,
  settings     TEXT NOT NULL,
  password_enc TEXT,
  ca_pem       TEXT,
  enabled      INTEGER NOT NULL DEFAULT 1,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- Pins added through the admin API (the config file's pins are read-only and not stored here).
CREATE TABLE pins (
  pattern    TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Traffic per upstream and hour: what the dashboard's chart and the bandwidth-saved figure are made of.
CREATE TABLE traffic (
  upstream      TEXT NOT NULL,
  hour          INTEGER NOT NULL,
  bytes_served  INTEGER NOT NULL DEFAULT 0,
  bytes_fetched INTEGER NOT NULL DEFAULT 0,
  hits          INTEGER NOT NULL DEFAULT 0,
  misses        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (upstream, hour)
) WITHOUT ROWID;
`;

// Pullgate's own users for the registry face (`access.login: required`), added with `pullgate user add`.
const registryUsersSchema = `
CREATE TABLE registry_users (
  username      TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
) WITHOUT ROWID;
`;

// TLS passthrough routes added through the admin (the config file's are read-only and not stored here).
const passthroughRoutesSchema = `
CREATE TABLE passthrough_routes (
  sni        TEXT PRIMARY KEY,
  target     TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

// Signature verdicts per manifest digest and policy version (docs/signatures.md); kept apart from the manifest rows
// so that a verdict outlives an eviction and a re-fetch of the same bytes.
const signatureVerdictsSchema = `
CREATE TABLE signature_verdicts (
  digest     TEXT NOT NULL,
  policy     TEXT NOT NULL,
  result     TEXT NOT NULL CHECK (result IN ('pass', 'fail')),
  json       TEXT NOT NULL,
  decided_at INTEGER NOT NULL,
  PRIMARY KEY (digest, policy)
) WITHOUT ROWID;
`;

// Traffic by minute next to the hourly rows (the short ranges of the dashboard's chart), and two more counters on
// both: bytes served from the cache (what "Saved" is) and bytes fetched by prefetch jobs (shown on their own).
// Minute rows are pruned after two days.
const trafficMinutesSchema = `
ALTER TABLE traffic ADD COLUMN bytes_hit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE traffic ADD COLUMN bytes_prefetched INTEGER NOT NULL DEFAULT 0;
CREATE TABLE traffic_minutes (
  upstream         TEXT NOT NULL,
  minute           INTEGER NOT NULL,
  bytes_served     INTEGER NOT NULL DEFAULT 0,
  bytes_fetched    INTEGER NOT NULL DEFAULT 0,
  bytes_hit        INTEGER NOT NULL DEFAULT 0,
  bytes_prefetched INTEGER NOT NULL DEFAULT 0,
  hits             INTEGER NOT NULL DEFAULT 0,
  misses           INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, upstream)
) WITHOUT ROWID;
`;

// What was changed through the admin API, by whom (the session or the API token's name) and from where.
const auditLogSchema = `
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  via     TEXT NOT NULL,
  actor   TEXT NOT NULL,
  client  TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  detail  TEXT,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
`;

// Watch lists (docs/watch.md): each watched tag's state, the digests it pointed at (the last K are kept from
// eviction) and each run of an entry.
const watchSchema = `
CREATE TABLE watch_tags (
  entry         TEXT NOT NULL,
  upstream      TEXT NOT NULL,
  repository    TEXT NOT NULL,
  tag           TEXT NOT NULL,
  digest        TEXT,
  changed_at    INTEGER,
  checked_at    INTEGER NOT NULL,
  bytes_fetched INTEGER NOT NULL DEFAULT 0,
  error         TEXT,
  PRIMARY KEY (entry, tag)
) WITHOUT ROWID;

CREATE TABLE watch_history (
  upstream   TEXT NOT NULL,
  repository TEXT NOT NULL,
  tag        TEXT NOT NULL,
  digest     TEXT NOT NULL,
  seen_at    INTEGER NOT NULL,
  PRIMARY KEY (upstream, repository, tag, digest)
) WITHOUT ROWID;

CREATE TABLE watch_runs (
  id          INTEGER PRIMARY KEY,
  entry       TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  result      TEXT NOT NULL CHECK (result IN ('running', 'ok', 'failed', 'held')),
  changed     INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  message     TEXT
);
CREATE INDEX watch_runs_by_entry ON watch_runs (entry, started_at);
`;

// Watch entries added through the admin (docs/watch.md), next to the config file's: the entry as given, checked
// with the config file's schema when it is added and again when it is read.
const adminWatchSchema = `
CREATE TABLE watch_entries (
  id         TEXT PRIMARY KEY,
  upstream   TEXT NOT NULL,
  entry      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

// How many tags matching an entry's patterns a run left out (its `maxTags` cap, docs/watch.md).
const watchRunSkippedSchema = `ALTER TABLE watch_runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;`;

export const migrations: readonly Migration[] = [
  { name: 'initial schema', sql: initialSchema },
  { name: 'admin state', sql: adminSchema },
  { name: 'registry users', sql: registryUsersSchema },
  { name: 'passthrough routes', sql: passthroughRoutesSchema },
  { name: 'signature verdicts', sql: signatureVerdictsSchema },
  { name: 'traffic minutes', sql: trafficMinutesSchema },
  { name: 'audit log', sql: auditLogSchema },
  { name: 'watch lists', sql: watchSchema },
  { name: 'admin watch entries', sql: adminWatchSchema },
  { name: 'watch run skipped tags', sql: watchRunSkippedSchema },
];
