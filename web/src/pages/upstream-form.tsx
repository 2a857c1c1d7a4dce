// Add or edit an upstream. Obvious mistakes are caught as the user leaves a field; everything else comes back
// from the server as VALIDATION field errors (dotted paths such as `url`, `auth.username`, `hosts.0`), each shown
// under its field. "Test" tries the unsaved settings against the real upstream before anything is stored.
import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api.js';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { TestSteps } from '../components/test-steps.js';
import { durationText } from '../format.js';
import { href, navigate } from '../router.js';
import type { FieldError, TestResult, UpstreamInput, UpstreamView } from '../types.js';

interface FormState {
  name: string;
  registry: string;
  url: string;
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
  testImage: string;
}

type FieldKey = 'name' | 'registry' | 'url' | 'hosts' | 'mode' | 'username' | 'password' | 'caPem' | 'proxy' | 'tagTtl';
type Errors = Partial<Record<FieldKey | 'form', string>>;

function initialState(existing: UpstreamView | undefined): FormState {
  return {
    name: existing?.name ?? '',
    registry: existing?.registry ?? '',
    url: existing?.url ?? 'https://',
    hosts: existing?.hosts.join('\n') ?? '',
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
    testImage: '',
  };
}

// The same rules as the server's schema, for a quick answer on blur; the server stays the authority.
const checks: Partial<Record<FieldKey, (s: FormState) => string | undefined>> = {
  name: (s) => (/^[a-z0-9][a-z0-9_-]{0,62}$/.test(s.name) ? undefined : 'lower-case letters, digits, - and _'),
  registry: (s) => (s.registry.trim() ? undefined : 'expected a registry host such as gcr.io or host:port'),
  url: (s) => {
    try {
      const u = new URL(s.url.trim());
      return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'expected an http:// or https:// URL';
    } catch {
      return 'expected an http:// or https:// URL';
    }
  },
  caPem: (s) => (s.caPem.trim() === '' || s.caPem.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'expected PEM certificates'),
  tagTtl: (s) =>
    /^(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d))+)$/.test(s.tagTtl.trim()) ? undefined : `not a duration: ${s.tagTtl} (use e.g. "30s", "5m", "1h")`,
  username: (s) => (s.mode === 'mirror' && s.password && !s.username ? 'a password needs a username' : undefined),
};

function clientErrors(s: FormState): Errors {
  const out: Errors = {};
  for (const [key, check] of Object.entries(checks) as [FieldKey, (s: FormState) => string | undefined][]) {
    const message = check(s);
    if (message) out[key] = message;
  }
  return out;
}

/** Server field paths to the form's fields; anything unknown is shown at the top of the form. */
function fieldFor(path: string): FieldKey | 'form' {
  const [head, sub] = path.split('.');
  if (head === 'auth') return sub === 'password' ? 'password' : sub === 'mode' ? 'mode' : 'username';
  if (head === 'hosts') return 'hosts';
  const known: FieldKey[] = ['name', 'registry', 'url', 'caPem', 'proxy', 'tagTtl'];
  return known.includes(head as FieldKey) ? (head as FieldKey) : 'form';
}

function serverErrors(fields: FieldError[], fallback: string): Errors {
  const out: Errors = {};
  for (const f of fields) {
    const key = fieldFor(f.path);
    const message = key === 'form' && f.path ? `${f.path}: ${f.message}` : f.message;
    out[key] = out[key] ? `${out[key]}; ${message}` : message;
  }
  if (Object.keys(out).length === 0) out.form = fallback;
  return out;
}

function toInput(s: FormState, existing: UpstreamView | undefined): UpstreamInput {
  const hosts = s.hosts.split(/[\s,]+/).filter(Boolean);
  const auth: UpstreamInput['auth'] = { mode: s.mode };
  if (s.mode === 'mirror' && s.username) auth.username = s.username;
  if (s.mode === 'mirror' && s.password) auth.password = s.password;
  else if (existing?.auth.hasPassword && (s.removePassword || s.mode === 'passthrough' || !s.username)) auth.password = null;
  const input: UpstreamInput = {
    name: s.name.trim(),
    registry: s.registry.trim(),
    url: s.url.trim(),
    hosts,
    default: s.isDefault,
    auth,
    insecureSkipVerify: s.insecureSkipVerify,
    tagTtl: s.tagTtl.trim(),
    offline: s.offline,
    enabled: s.enabled,
  };
  if (s.caPem.trim()) input.caPem = s.caPem.trim() + '\n';
  else if (existing?.hasCa && s.removeCa) input.caPem = null;
  if (s.proxy.trim()) input.proxy = s.proxy.trim();
  return input;
}

export function UpstreamForm({ existing }: { existing?: UpstreamView }) {
  const { api, notify } = useApp();
  const [state, setState] = useState(() => initialState(existing));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState<'save' | 'test' | undefined>(undefined);
  const [test, setTest] = useState<TestResult | undefined>(undefined);
  const editing = existing !== undefined;

  const set = <K extends keyof FormState>(key: K, value: FormState[K]): void => {
    setState((s) => ({ ...s, [key]: value }));
    // An edited field loses its old error; it is checked again when the user leaves it.
    if (key in errors) setErrors((e) => ({ ...e, [key]: undefined }));
  };
  const blur = (key: FieldKey) => (): void => {
    const message = checks[key]?.(state);
    setErrors((e) => ({ ...e, [key]: message }));
  };
  const aria = (key: FieldKey, hint = false) => ({
    id: `upstream-${key}`,
    'aria-invalid': errors[key] ? true : undefined,
    'aria-describedby': describedBy(`upstream-${key}`, hint, errors[key]),
    onBlur: blur(key),
  });

  /** Client checks first; returns the input to send, or undefined after showing the errors. */
  const validated = (): UpstreamInput | undefined => {
    const found = clientErrors(state);
    if (Object.keys(found).length > 0) {
      setErrors(found);
      const first = Object.keys(found)[0];
      document.getElementById(`upstream-${first}`)?.focus();
      return undefined;
    }
    setErrors({});
    return toInput(state, existing);
  };

  const handleError = (err: unknown): void => {
    if (err instanceof ApiError && err.code === 'VALIDATION') {
      const found = serverErrors(err.fields, err.message);
      setErrors(found);
      const first = Object.keys(found).find((k) => k !== 'form');
      if (first) document.getElementById(`upstream-${first}`)?.focus();
    } else setErrors({ form: errorMessage(err) });
  };

  const runTest = async (): Promise<void> => {
    const input = validated();
    if (!input) return;
    setBusy('test');
    setTest(undefined);
    try {
      const image = state.testImage.trim();
      setTest(await api.send<TestResult>('POST', '/api/upstreams/test', { upstream: input, ...(image ? { image } : {}) }));
    } catch (err) {
      handleError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const input = validated();
    if (!input) return;
    setBusy('save');
    try {
      if (editing) await api.send('PUT', `/api/upstreams/${encodeURIComponent(existing.name)}`, input);
      else await api.send('POST', '/api/upstreams', input);
      notify(`Upstream ${input.name} ${editing ? 'updated' : 'added'}.`);
      navigate('upstreams');
    } catch (err) {
      handleError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <form class="card upstream-form" onSubmit={save} noValidate data-testid="upstream-form">
      <h2>{editing ? `Edit ${existing.name}` : 'Add an upstream'}</h2>
      {errors.form ? (
        <p class="form-error" role="alert" data-testid="form-error">
          {errors.form}
        </p>
      ) : null}

      <fieldset>
        <legend>Registry</legend>
        <div class="grid">
          <Field id="upstream-name" label="Name" hint="Short identifier used in logs, pins and the cache explorer." error={errors.name}>
            <input {...aria('name', true)} value={state.name} readOnly={editing} required autoComplete="off" onInput={(e) => set('name', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-registry" label="Registry name" hint="As clients name it: docker.io, ghcr.io, registry.corp:5000." error={errors.registry}>
            <input {...aria('registry', true)} value={state.registry} required autoComplete="off" spellcheck={false} onInput={(e) => set('registry', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-url" label="URL" hint="Where Pullgate connects, e.g. https://registry-1.docker.io." error={errors.url}>
            <input {...aria('url', true)} type="url" value={state.url} required autoComplete="off" spellcheck={false} onInput={(e) => set('url', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-hosts" label="Mirror hostnames" hint="Hostnames of this mirror routed to this upstream, one per line." error={errors.hosts}>
            <textarea {...aria('hosts', true)} rows={2} value={state.hosts} spellcheck={false} onInput={(e) => set('hosts', e.currentTarget.value)} />
          </Field>
        </div>
        <div class="checks">
          <Field id="upstream-default" label="Default upstream (served at the mirror root)" inline>
            <input id="upstream-default" type="checkbox" checked={state.isDefault} onChange={(e) => set('isDefault', e.currentTarget.checked)} />
          </Field>
          <Field id="upstream-enabled" label="Enabled" inline>
            <input id="upstream-enabled" type="checkbox" checked={state.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} />
          </Field>
          <Field id="upstream-offline" label="Offline (serve only what is cached)" inline>
            <input id="upstream-offline" type="checkbox" checked={state.offline} onChange={(e) => set('offline', e.currentTarget.checked)} />
          </Field>
        </div>
      </fieldset>

      <fieldset>
        <legend>Credentials</legend>
        <div class="grid">
          <Field id="upstream-mode" label="Mode" hint={state.mode === 'mirror' ? 'Pullgate holds the credentials and pulls for every client.' : 'Each client authenticates with its own credentials.'} error={errors.mode}>
            <select {...aria('mode', true)} value={state.mode} onChange={(e) => set('mode', e.currentTarget.value as FormState['mode'])}>
              <option value="mirror">mirror</option>
              <option value="passthrough">passthrough</option>
            </select>
          </Field>
          {state.mode === 'mirror' ? (
            <>
              <Field id="upstream-username" label="Username" hint="Empty for anonymous pulls." error={errors.username}>
                <input {...aria('username', true)} value={state.username} autoComplete="off" onInput={(e) => set('username', e.currentTarget.value)} />
              </Field>
              <Field
                id="upstream-password"
                label="Password or token"
                hint={existing?.auth.hasPassword ? 'A password is stored; leave empty to keep it.' : 'Stored on the server, never shown again.'}
                error={errors.password}
              >
                <input {...aria('password', true)} type="password" value={state.password} autoComplete="new-password" onInput={(e) => set('password', e.currentTarget.value)} />
              </Field>
            </>
          ) : null}
        </div>
        {state.mode === 'mirror' && existing?.auth.hasPassword ? (
          <Field id="upstream-remove-password" label="Remove the stored password" inline>
            <input id="upstream-remove-password" type="checkbox" checked={state.removePassword} onChange={(e) => set('removePassword', e.currentTarget.checked)} />
          </Field>
        ) : null}
      </fieldset>

      <fieldset>
        <legend>Connection</legend>
        <Field
          id="upstream-caPem"
          label="Extra CA certificates (PEM)"
          hint={existing?.hasCa ? 'A CA bundle is stored; leave empty to keep it.' : 'Trusted for this upstream on top of the system CAs.'}
          error={errors.caPem}
        >
          <textarea
            {...aria('caPem', true)}
            class="mono"
            rows={4}
            value={state.caPem}
            spellcheck={false}
            placeholder="-----BEGIN CERTIFICATE-----"
            onInput={(e) => set('caPem', e.currentTarget.value)}
          />
        </Field>
        {existing?.hasCa ? (
          <Field id="upstream-remove-ca" label="Remove the stored CA bundle" inline>
            <input id="upstream-remove-ca" type="checkbox" checked={state.removeCa} onChange={(e) => set('removeCa', e.currentTarget.checked)} />
          </Field>
        ) : null}
        <div class="grid">
          <Field id="upstream-proxy" label="Proxy" hint="http:// or https:// proxy; empty uses the global setting." error={errors.proxy}>
            <input {...aria('proxy', true)} value={state.proxy} autoComplete="off" spellcheck={false} onInput={(e) => set('proxy', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-tagTtl" label="Tag freshness" hint="How long a cached tag is trusted: 30s, 5m, 1h." error={errors.tagTtl}>
            <input {...aria('tagTtl', true)} value={state.tagTtl} autoComplete="off" onInput={(e) => set('tagTtl', e.currentTarget.value)} />
          </Field>
        </div>
        <Field id="upstream-insecure" label="Skip TLS verification (insecure)" inline>
          <input id="upstream-insecure" type="checkbox" checked={state.insecureSkipVerify} onChange={(e) => set('insecureSkipVerify', e.currentTarget.checked)} />
        </Field>
      </fieldset>

      <fieldset>
        <legend>Test</legend>
        <div class="test-row">
          <Field id="upstream-test-image" label="Image to look up (optional)" hint="repository:tag, e.g. library/alpine:latest; empty checks the registry only.">
            <input id="upstream-test-image" aria-describedby="upstream-test-image-hint" value={state.testImage} autoComplete="off" spellcheck={false} onInput={(e) => set('testImage', e.currentTarget.value)} />
          </Field>
          <button type="button" class="button" onClick={() => void runTest()} disabled={busy !== undefined} data-testid="upstream-test">
            {busy === 'test' ? 'Testing…' : 'Test connection'}
          </button>
        </div>
        {test ? <TestSteps result={test} title="Connection test" /> : null}
      </fieldset>

      <div class="actions">
        <a class="button" href={href('upstreams')}>
          Cancel
        </a>
        <button type="submit" class="button primary" disabled={busy !== undefined} data-testid="upstream-save">
          {busy === 'save' ? 'Saving…' : editing ? 'Save changes' : 'Add upstream'}
        </button>
      </div>
    </form>
  );
}
