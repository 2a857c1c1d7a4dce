// The upstream form's state and its mapping to and from the API: the quick client checks run on blur, the server's
// VALIDATION field paths (`url`, `auth.username`, `mirrors.0`, `access.allow.2`, `retries.minDelay`) are turned
// into the form's fields, and the input sent leaves out what the operator did not set (access keys fall back to
// the global `access` setting only when they are absent); the stored settings the form does not show go back as
// they were.
import { durationText } from '../format.js';
import type { FieldError, UpstreamInput, UpstreamView } from '../types.js';
import { draftsOf, signaturesInput, signaturesPlace, signaturesProblem, type RequirementDraft } from './signature-policy-model.js';

export interface FormState {
  name: string;
  registry: string;
  url: string;
  mirrors: string;
  hosts: string;
  isDefault: boolean;
  mode: 'mirror' | 'passthrough';
  username: string;
  password: string;
  removePassword: boolean;
  caPem: string;
  removeCa: boolean;
  insecureSkipVerify: boolean;
  proxy: string;
  tagTtl: string;
  offline: boolean;
  enabled: boolean;
  accessAllow: string;
  accessDeny: string;
  /** '' follows the global `access.login`. */
  accessLogin: '' | 'off' | 'required';
  policyAllow: string;
  policyDeny: string;
  allowPrivateRedirects: boolean;
  retryAttempts: string;
  retryMinDelay: string;
  retryMaxDelay: string;
  circuitFailures: string;
  circuitOpenFor: string;
  testImage: string;
  /** The signature policy's requirements (signature-policy-model.ts); none: no policy. */
  signatures: RequirementDraft[];
}

export type FieldKey =
  | 'name'
  | 'registry'
  | 'url'
  | 'mirrors'
  | 'hosts'
  | 'mode'
  | 'username'
  | 'password'
  | 'caPem'
  | 'proxy'
  | 'tagTtl'
  | 'accessAllow'
  | 'accessDeny'
  | 'accessLogin'
  | 'policyAllow'
  | 'policyDeny'
  | 'retryAttempts'
  | 'retryMinDelay'
  | 'retryMaxDelay'
  | 'circuitFailures'
  | 'circuitOpenFor'
  | 'signatures';
export type Errors = Partial<Record<FieldKey | 'form', string>>;

/** The fields inside the "Retries and circuit breaker" disclosure: an error there opens it. */
export const advancedKeys: readonly FieldKey[] = ['retryAttempts', 'retryMinDelay', 'retryMaxDelay', 'circuitFailures', 'circuitOpenFor'];

/**
 * Settings the view may carry (newer servers): read when present so an edit keeps them; without them an edit
 * shows and saves the defaults.
 */
interface ResilienceView {
  allowPrivateRedirects?: boolean;
  retries?: { attempts: number; minDelayMs: number; maxDelayMs: number };
  circuit?: { failures: number; openForMs: number };
}

const lines = (list: readonly string[] | undefined): string => (list ?? []).join('\n');

/** One entry per line (commas and spaces also separate): what the textareas hold. */
export const entries = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

export function initialState(existing: UpstreamView | undefined): FormState {
  const extra = existing as (UpstreamView & ResilienceView) | undefined;
  return {
    name: existing?.name ?? '',
    registry: existing?.registry ?? '',
    url: existing?.url ?? 'https://',
    mirrors: lines(existing?.mirrors),
    hosts: lines(existing?.hosts),
    isDefault: existing?.default ?? false,
    mode: existing?.auth.mode ?? 'mirror',
    username: existing?.auth.username ?? '',
    password: '',
    removePassword: false,
    caPem: '',
    removeCa: false,
    insecureSkipVerify: existing?.insecureSkipVerify ?? false,
    proxy: existing?.proxy ?? '',
    tagTtl: existing ? durationText(existing.tagTtlMs) : '5m',
    offline: existing?.offline ?? false,
    enabled: existing?.enabled ?? true,
    accessAllow: lines(existing?.access?.allow),
    accessDeny: lines(existing?.access?.deny),
    accessLogin: existing?.access?.login ?? '',
    policyAllow: lines(existing?.policy?.allow),
    policyDeny: lines(existing?.policy?.deny),
    allowPrivateRedirects: extra?.allowPrivateRedirects ?? false,
    retryAttempts: String(extra?.retries?.attempts ?? 3),
    retryMinDelay: durationText(extra?.retries?.minDelayMs ?? 200),
    retryMaxDelay: durationText(extra?.retries?.maxDelayMs ?? 2000),
    circuitFailures: String(extra?.circuit?.failures ?? 5),
    circuitOpenFor: durationText(extra?.circuit?.openForMs ?? 30_000),
    testImage: '',
    signatures: draftsOf(existing?.signatures),
  };
}

const httpUrl = (value: string): boolean => {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
};
const durationPattern = /^(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d))+)$/;
const duration = (value: string): string | undefined =>
  durationPattern.test(value.trim()) ? undefined : `not a duration: ${value} (use e.g. "200ms", "30s", "5m")`;
const integer = (value: string, min: number, max: number): string | undefined => {
  const n = Number(value.trim());
  return value.trim() !== '' && Number.isInteger(n) && n >= min && n <= max ? undefined : `a whole number from ${min} to ${max}`;
};

// The same rules as the server's schema, for a quick answer on blur; the server stays the authority (addresses,
// CIDR blocks and repository globs are checked there only, and come back next to their field).
export const checks: Partial<Record<FieldKey, (s: FormState) => string | undefined>> = {
  name: (s) => (/^[a-z0-9][a-z0-9_-]{0,62}$/.test(s.name) ? undefined : 'lower-case letters, digits, - and _'),
  registry: (s) => (s.registry.trim() ? undefined : 'expected a registry host such as gcr.io or host:port'),
  url: (s) => (httpUrl(s.url.trim()) ? undefined : 'expected an http:// or https:// URL'),
  mirrors: (s) => {
    const bad = entries(s.mirrors).find((m) => !httpUrl(m));
    return bad === undefined ? undefined : `${bad}: expected an http:// or https:// URL`;
  },
  caPem: (s) => (s.caPem.trim() === '' || s.caPem.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'expected PEM certificates'),
  tagTtl: (s) => (durationPattern.test(s.tagTtl.trim()) ? undefined : `not a duration: ${s.tagTtl} (use e.g. "30s", "5m", "1h")`),
  username: (s) => (s.mode === 'mirror' && s.password && !s.username ? 'a password needs a username' : undefined),
  retryAttempts: (s) => integer(s.retryAttempts, 1, 10),
  retryMinDelay: (s) => duration(s.retryMinDelay),
  retryMaxDelay: (s) => duration(s.retryMaxDelay),
  circuitFailures: (s) => integer(s.circuitFailures, 1, 1000),
  circuitOpenFor: (s) => duration(s.circuitOpenFor),
  signatures: (s) => signaturesProblem(s.signatures),
};

export function clientErrors(s: FormState): Errors {
  const out: Errors = {};
  for (const [key, check] of Object.entries(checks) as [FieldKey, (s: FormState) => string | undefined][]) {
    const message = check(s);
    if (message) out[key] = message;
  }
  return out;
}

// Dotted server paths to form fields: the list fields keep the entry's index, so the message can name the entry.
const listFields: Record<string, FieldKey> = {
  mirrors: 'mirrors',
  hosts: 'hosts',
  'access.allow': 'accessAllow',
  'access.deny': 'accessDeny',
  'policy.allow': 'policyAllow',
  'policy.deny': 'policyDeny',
};
const scalarFields: Record<string, FieldKey> = {
  name: 'name',
  registry: 'registry',
  url: 'url',
  caPem: 'caPem',
  proxy: 'proxy',
  tagTtl: 'tagTtl',
  'auth.mode': 'mode',
  'auth.password': 'password',
  'auth.username': 'username',
  auth: 'username',
  'access.login': 'accessLogin',
  'retries.attempts': 'retryAttempts',
  'retries.minDelay': 'retryMinDelay',
  'retries.maxDelay': 'retryMaxDelay',
  retries: 'retryMinDelay',
  'circuit.failures': 'circuitFailures',
  'circuit.openFor': 'circuitOpenFor',
};

/** The form field a server path belongs to, and the index of the list entry it names (`access.allow.2` -> 2). */
export function fieldFor(path: string): { key: FieldKey | 'form'; index?: number } {
  if (path === 'signatures' || path.startsWith('signatures.')) return { key: 'signatures' };
  const m = /^(.*)\.(\d+)$/.exec(path);
  if (m?.[1] !== undefined && listFields[m[1]]) return { key: listFields[m[1]] as FieldKey, index: Number(m[2]) };
  return { key: listFields[path] ?? scalarFields[path] ?? 'form' };
}

const listOf = (s: FormState, key: FieldKey): string[] | undefined => {
  const text = { mirrors: s.mirrors, hosts: s.hosts, accessAllow: s.accessAllow, accessDeny: s.accessDeny, policyAllow: s.policyAllow, policyDeny: s.policyDeny }[
    key as string
  ];
  return text === undefined ? undefined : entries(text);
};

export function serverErrors(fields: FieldError[], fallback: string, s: FormState): Errors {
  const out: Errors = {};
  for (const f of fields) {
    const { key, index } = fieldFor(f.path);
    // A list entry is named by its value, which is what the operator sees in the textarea (not its index).
    const entry = index !== undefined ? listOf(s, key as FieldKey)?.[index] : undefined;
    const message =
      key === 'signatures' ? `${signaturesPlace(f.path)}: ${f.message}` : key === 'form' && f.path ? `${f.path}: ${f.message}` : entry !== undefined ? `${entry}: ${f.message}` : f.message;
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  }
  if (Object.keys(out).length === 0) out.form = fallback;
  return out;
}

/**
 * The stored settings the form does not show, as the view gives them: PUT /api/upstreams/:name replaces the whole
 * upstream, so an edit sends them back unchanged and changes only what the operator saw (docs/segmented-fills.md,
 * docs/watch.md). A setting added to the view and not to the form belongs here.
 */
export function unshownSettings(existing: UpstreamView | undefined): Partial<UpstreamInput> {
  // The watch webhook is not here: the view shows its origin only, and an edit that leaves it out keeps it.
  if (!existing) return {};
  const g = existing.segments;
  return {
    // Numbers in bytes; durations with their unit (a bare number is read as seconds).
    segments: { connections: g.connections, maxConnections: g.maxConnections, size: g.sizeBytes, threshold: g.thresholdBytes, resumes: g.resumes, stallTimeout: `${g.stallTimeoutMs}ms` },
    quota: existing.quota.setting,
    directReads: existing.directReads,
    watch: existing.watch.map(({ everyMs, jitterMs, ...entry }) => ({ ...entry, ...(everyMs !== undefined ? { every: `${everyMs}ms` } : {}), jitter: `${jitterMs}ms` })),
  };
}

export function toInput(s: FormState, existing: UpstreamView | undefined): UpstreamInput {
  const auth: UpstreamInput['auth'] = { mode: s.mode };
  if (s.mode === 'mirror' && s.username) auth.username = s.username;
  if (s.mode === 'mirror' && s.password) auth.password = s.password;
  else if (existing?.auth.hasPassword && (s.removePassword || s.mode === 'passthrough' || !s.username)) auth.password = null;
  const input: UpstreamInput = {
    ...unshownSettings(existing),
    name: s.name.trim(),
    registry: s.registry.trim(),
    url: s.url.trim(),
    mirrors: entries(s.mirrors),
    hosts: entries(s.hosts),
    default: s.isDefault,
    auth,
    insecureSkipVerify: s.insecureSkipVerify,
    tagTtl: s.tagTtl.trim(),
    offline: s.offline,
    enabled: s.enabled,
    allowPrivateRedirects: s.allowPrivateRedirects,
    retries: { attempts: Number(s.retryAttempts.trim()), minDelay: s.retryMinDelay.trim(), maxDelay: s.retryMaxDelay.trim() },
    circuit: { failures: Number(s.circuitFailures.trim()), openFor: s.circuitOpenFor.trim() },
  };
  if (s.caPem.trim()) input.caPem = s.caPem.trim() + '\n';
  else if (existing?.hasCa && s.removeCa) input.caPem = null;
  if (s.proxy.trim()) input.proxy = s.proxy.trim();
  // Each access key the operator left empty is left out, so that the global setting applies to it.
  const allow = entries(s.accessAllow);
  const deny = entries(s.accessDeny);
  const access: NonNullable<UpstreamInput['access']> = {};
  if (allow.length) access.allow = allow;
  if (deny.length) access.deny = deny;
  if (s.accessLogin) access.login = s.accessLogin;
  if (Object.keys(access).length) input.access = access;
  const policy = { allow: entries(s.policyAllow), deny: entries(s.policyDeny) };
  if (policy.allow.length || policy.deny.length) input.policy = policy;
  const signatures = signaturesInput(s.signatures);
  if (signatures) input.signatures = signatures;
  return input;
}
