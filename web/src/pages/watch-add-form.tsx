// The Watch page's form (watch.tsx, docs/watch.md): watch an image with an entry as in the config file. Obvious
// mistakes are caught before sending; the server's VALIDATION field errors land under their fields.
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { focusFirstError, formErrors, type FormErrors } from '../form-errors.js';
import { formatDateTime } from '../format.js';
import type { WatchEntryView } from '../types.js';

const fieldKeys = ['upstream', 'repository', 'tags', 'newest', 'platforms', 'every', 'cron', 'jitter', 'keep'] as const;
type FieldKey = (typeof fieldKeys)[number];
type Errors = FormErrors<FieldKey>;
type FormValues = Record<FieldKey, string>;

const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** Field errors by the form's field: `tags.0` is the tags field, a whole-entry rule (`every or cron`) goes with every. */
function entryErrors(err: unknown): Errors {
  if (!(err instanceof ApiError) || !err.fields.length) return formErrors(err, fieldKeys);
  const fields = err.fields.map((f) => {
    const first = f.path.split('.')[0] ?? '';
    return { ...f, path: first === '' && /every or cron/.test(f.message) ? 'every' : first };
  });
  return formErrors(new ApiError(err.status, err.code, err.message, fields), fieldKeys);
}

/** The mistakes caught before sending: no repository, neither or both of every and cron. */
function clientErrors(form: FormValues): Errors {
  const found: Errors = {};
  if (!form.repository.trim()) found.repository = 'expected a repository as on the upstream, e.g. library/node';
  if (!form.every.trim() && !form.cron.trim()) found.every = 'set every or cron (one of them)';
  if (form.every.trim() && form.cron.trim()) found.cron = 'set every or cron, not both';
  return found;
}

/** The entry to send: the fields filled in, lists split on commas, counts as numbers. */
function entryBody(form: FormValues, upstream: string) {
  const number = (v: string): number | string => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());
  return {
    upstream,
    repository: form.repository.trim(),
    ...(form.tags.trim() ? { tags: list(form.tags) } : {}),
    ...(form.newest.trim() ? { newest: number(form.newest) } : {}),
    ...(form.platforms.trim() ? { platforms: list(form.platforms) } : {}),
    ...(form.every.trim() ? { every: form.every.trim() } : {}),
    ...(form.cron.trim() ? { cron: form.cron.trim() } : {}),
    ...(form.jitter.trim() ? { jitter: form.jitter.trim() } : {}),
    ...(form.keep.trim() ? { keep: number(form.keep) } : {}),
  };
}

/** The form's values and errors, and the submit that adds the entry and brings it into view. */
function useAddEntry(reload: () => Promise<void>, upstreams: string[]) {
  const { api, notify, reveal } = useApp();
  const empty = { upstream: upstreams[0] ?? '', repository: '', tags: '', newest: '', platforms: '', every: '6h', cron: '', jitter: '', keep: '' };
  const [form, setForm] = useState<FormValues>(empty);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const upstream = form.upstream || upstreams[0] || '';

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const found = clientErrors(form);
    setErrors(found);
    focusFirstError(found, 'watch');
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const added = await api.send<WatchEntryView>('POST', '/api/watch', entryBody(form, upstream));
      setForm({ ...empty, upstream });
      await reload();
      notify(`Watching ${added.id}; first run ${formatDateTime(added.nextRun)}.`);
      reveal(`watch-${added.id}`);
    } catch (err) {
      const next = entryErrors(err);
      setErrors(next);
      focusFirstError(next, 'watch');
    } finally {
      setBusy(false);
    }
  };
  const setField = (key: FieldKey, value: string): void => {
    setForm((f) => ({ ...f, [key]: value }));
    setErrors((x) => ({ ...x, [key]: undefined }));
  };
  const setUpstream = (value: string): void => setForm((f) => ({ ...f, upstream: value }));
  return { form, errors, busy, upstream, submit, setField, setUpstream };
}

interface EntryInputProps {
  name: FieldKey;
  placeholder: string;
  inputMode?: 'numeric';
  value: string;
  error: string | undefined;
  onValue(key: FieldKey, value: string): void;
}

function EntryInput({ name, placeholder, inputMode, value, error, onValue }: EntryInputProps) {
  return (
    <input
      id={`watch-${name}`}
      value={value}
      placeholder={placeholder}
      autoComplete="off"
      spellcheck={false}
      inputMode={inputMode}
      aria-invalid={error ? true : undefined}
      aria-describedby={describedBy(`watch-${name}`, true, error)}
      data-testid={`watch-${name}`}
      onInput={(e) => onValue(name, e.currentTarget.value)}
    />
  );
}

function UpstreamSelect({ value, upstreams, error, onChange }: { value: string; upstreams: string[]; error: string | undefined; onChange(value: string): void }) {
  return (
    <select
      id="watch-upstream"
      value={value}
      data-testid="watch-upstream"
      aria-describedby={describedBy('watch-upstream', true, error)}
      onChange={(e) => onChange(e.currentTarget.value)}
    >
      {upstreams.map((u) => (
        <option key={u} value={u}>
          {u}
        </option>
      ))}
    </select>
  );
}

export function AddEntryForm({ reload, upstreams }: { reload(): Promise<void>; upstreams: string[] }) {
  const { form, errors, busy, upstream, submit, setField, setUpstream } = useAddEntry(reload, upstreams);
  return (
    <section class="card" aria-labelledby="watch-add-title">
      <h2 id="watch-add-title">Watch an image</h2>
      {errors.form ? (
        <p class="form-error" role="alert" data-testid="watch-form-error">
          {errors.form}
        </p>
      ) : null}
      <form onSubmit={submit} noValidate data-testid="watch-form">
        <div class="grid three">
          <Field id="watch-upstream" label="Upstream" hint="Where the image comes from." error={errors.upstream}>
            <UpstreamSelect value={upstream} upstreams={upstreams} error={errors.upstream} onChange={setUpstream} />
          </Field>
          <Field id="watch-repository" label="Repository" hint="As on the upstream: library/node, team/app." error={errors.repository}>
            <EntryInput name="repository" placeholder="library/node" value={form.repository} error={errors.repository} onValue={setField} />
          </Field>
          <Field id="watch-tags" label="Tags" hint="Comma-separated; * for a pattern (22*, v*). Default: latest." error={errors.tags}>
            <EntryInput name="tags" placeholder="latest" value={form.tags} error={errors.tags} onValue={setField} />
          </Field>
          <Field id="watch-every" label="Every" hint="An interval, e.g. 6h; or leave empty and use cron." error={errors.every}>
            <EntryInput name="every" placeholder="6h" value={form.every} error={errors.every} onValue={setField} />
          </Field>
          <Field id="watch-cron" label="Cron (UTC)" hint={'Instead of every, e.g. "0 6 * * 1-5".'} error={errors.cron}>
            <EntryInput name="cron" placeholder="0 6 * * 1-5" value={form.cron} error={errors.cron} onValue={setField} />
          </Field>
          <Field id="watch-jitter" label="Jitter" hint="Start each run up to this much later, e.g. 10m." error={errors.jitter}>
            <EntryInput name="jitter" placeholder="0s" value={form.jitter} error={errors.jitter} onValue={setField} />
          </Field>
          <Field id="watch-newest" label="Newest" hint="With patterns: only the newest N tags by version." error={errors.newest}>
            <EntryInput name="newest" placeholder="all" inputMode="numeric" value={form.newest} error={errors.newest} onValue={setField} />
          </Field>
          <Field id="watch-platforms" label="Platforms" hint="Comma-separated os/arch; default what clients pulled." error={errors.platforms}>
            <EntryInput name="platforms" placeholder="linux/amd64" value={form.platforms} error={errors.platforms} onValue={setField} />
          </Field>
          <Field id="watch-keep" label="Keep" hint="Digests per tag kept from eviction (default 3)." error={errors.keep}>
            <EntryInput name="keep" placeholder="3" inputMode="numeric" value={form.keep} error={errors.keep} onValue={setField} />
          </Field>
        </div>
        <div class="actions">
          <button type="submit" class="button primary" disabled={busy || upstreams.length === 0} data-testid="watch-save">
            {busy ? 'Saving…' : 'Watch'}
          </button>
        </div>
      </form>
    </section>
  );
}

