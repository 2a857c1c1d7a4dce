// Watch lists (docs/watch.md): images kept fresh before anyone asks. Each entry with its schedule, next and last run
// and the state of every tag it follows (current digest, when it moved, bytes fetched, errors); "Run now"; entries
// from the config file are read-only here, entries added here can be removed. Above them, each upstream's pull quota
// and what the quota governor held back.
import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { ResourceView } from '../components/resource-view.js';
import { TimeAgo } from '../components/time-ago.js';
import { focusFirstError, formErrors, type FormErrors } from '../form-errors.js';
import { count, durationText, formatBytes, formatDateTime, pullsLeft, shortDigest } from '../format.js';
import { useAction } from '../use-action.js';
import { useResource } from '../use-resource.js';
import type { UpstreamList, WatchEntryView, WatchList, WatchQuotaView, WatchRunResult } from '../types.js';

const fieldKeys = ['upstream', 'repository', 'tags', 'newest', 'platforms', 'every', 'cron', 'jitter', 'keep'] as const;
type FieldKey = (typeof fieldKeys)[number];
type Errors = FormErrors<FieldKey>;

export const scheduleText = (e: Pick<WatchEntryView, 'everyMs' | 'cron' | 'jitterMs'>): string =>
  `${e.everyMs !== undefined ? `every ${durationText(e.everyMs)}` : `cron ${e.cron ?? '?'} (UTC)`}${e.jitterMs ? `, up to ${durationText(e.jitterMs)} later` : ''}`;

const resultClass: Record<string, string> = { ok: 'good', failed: 'bad', held: 'warn', running: 'state-running' };

function Quotas({ quotas }: { quotas: WatchQuotaView[] }) {
  const known = quotas.filter((q) => q.remaining !== undefined || q.heldBack.watch > 0 || q.heldBack.live > 0 || q.pausedUntil !== undefined);
  return (
    <section class="card" aria-labelledby="quota-title" data-testid="watch-quotas">
      <h2 id="quota-title">Pull quota</h2>
      {known.length === 0 ? (
        <p class="empty">No upstream has announced a pull quota yet, and nothing was held back.</p>
      ) : (
        <ul class="quota-list">
          {known.map((q) => (
            <li key={q.upstream} data-testid={`quota-${q.upstream}`}>
              <span class="strong">{q.upstream}</span>{' '}
              <span>{q.remaining !== undefined ? pullsLeft(q) : 'quota not announced'}</span>
              <span class="muted small">
                {' '}
                · {q.reserve} kept for clients · held back: {count(q.heldBack.watch, 'watch step')}, {count(q.heldBack.live, 'tag')} served stale
                {q.pausedUntil !== undefined ? (
                  <>
                    {' '}
                    · paused after a 429 until {formatDateTime(q.pausedUntil)}
                  </>
                ) : null}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function EntryCard({ entry, reload }: { entry: WatchEntryView; reload(): Promise<void> }) {
  const { api } = useApp();
  const run = useAction();
  const [busy, setBusy] = useState(false);
  const key = `watch-${entry.id}`;

  const runNow = async (): Promise<void> => {
    setBusy(true);
    try {
      await run({
        act: async () => {
          const r = await api.send<WatchRunResult>('POST', `/api/watch/${encodeURIComponent(entry.id)}/run`);
          // A run that failed or was held back is not a success to fade away: it stays up as an error until dismissed.
          if (r.result !== 'ok') throw new Error(`${entry.id}: ${r.result === 'held' ? 'held back' : 'failed'}: ${r.message ?? ''}`);
          return r;
        },
        done: (r) => `${entry.id}: ${r.changed ? `${count(r.changed, 'tag')} moved, ${formatBytes(r.bytes)} fetched` : 'nothing moved'}.`,
        reload,
        reveal: key,
      });
    } finally {
      setBusy(false);
    }
  };
  const remove = (): Promise<unknown> =>
    run({
      confirm: {
        title: `Stop watching ${entry.id}?`,
        body: <p>No more scheduled runs for it. What it already fetched stays cached and ages out as usual.</p>,
        confirmLabel: 'Stop watching',
        danger: true,
      },
      act: () => api.send('DELETE', `/api/watch/${encodeURIComponent(entry.id)}`),
      done: `Stopped watching ${entry.id}.`,
      reload,
    });

  const last = entry.lastRun;
  return (
    <section class="card watch-entry" data-testid={`watch-entry-${entry.id}`} data-row-key={key} aria-label={entry.id}>
      <div class="card-head">
        <h2 class="name-cell">
          <span class="mono break">
            {entry.upstream}/{entry.repository}
          </span>
          <span class={`badge source-${entry.source}`} title={entry.source === 'config' ? 'From the config file: read-only here.' : 'Managed in this admin UI.'}>
            {entry.source}
          </span>
        </h2>
        <div class="watch-actions">
          <button type="button" class="button small" onClick={() => void runNow()} disabled={busy || entry.running} data-testid={`watch-run-${entry.id}`}>
            {busy || entry.running ? 'Running…' : 'Run now'}
          </button>
          {entry.source === 'admin' ? (
            <button type="button" class="button small danger" onClick={() => void remove()} data-testid={`watch-delete-${entry.id}`}>
              Delete
            </button>
          ) : null}
        </div>
      </div>
      <dl class="watch-facts">
        <div>
          <dt>Tags</dt>
          <dd class="mono">
            {entry.tags.join(', ')}
            {entry.newest !== undefined ? <span class="muted"> (newest {entry.newest})</span> : null}
            <span class="muted"> · at most {entry.maxTags} per run</span>
          </dd>
        </div>
        <div>
          <dt>Schedule</dt>
          <dd>{scheduleText(entry)}</dd>
        </div>
        <div>
          <dt>Next run</dt>
          <dd data-testid={`watch-next-${entry.id}`}>{entry.running ? 'running now' : <TimeAgo at={entry.nextRun} />}</dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd data-testid={`watch-last-${entry.id}`}>
            {last ? (
              <>
                <span class={`badge ${resultClass[last.result] ?? ''}`}>{last.result}</span> <TimeAgo at={last.finishedAt ?? last.startedAt} />
                {last.result === 'ok' ? <span class="muted small"> · {count(last.changed, 'tag')} moved, {formatBytes(last.bytes)}</span> : null}
                {last.skipped > 0 ? (
                  <span class="warn-text small" data-testid={`watch-skipped-${entry.id}`}>
                    {' '}
                    · {count(last.skipped, 'matching tag')} skipped (over maxTags)
                  </span>
                ) : null}
              </>
            ) : (
              <span class="muted">never</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Platforms</dt>
          <dd>{entry.platforms.length ? entry.platforms.join(', ') : <span class="muted">what clients pulled, else all</span>}</dd>
        </div>
        <div>
          <dt>Kept</dt>
          <dd>{count(entry.keep, 'digest')} per tag</dd>
        </div>
      </dl>
      {last?.message && last.result !== 'ok' ? (
        <p class={last.result === 'failed' ? 'form-error' : 'warning-box'} data-testid={`watch-message-${entry.id}`}>
          {last.message}
        </p>
      ) : null}
      {entry.tagStates.length === 0 ? (
        <p class="empty">Not run yet: the tags' state shows after the first run.</p>
      ) : (
        <div class="table-wrap">
          <table class="responsive watch-tags" data-testid={`watch-tags-${entry.id}`}>
            <thead>
              <tr>
                <th scope="col">Tag</th>
                <th scope="col">Current digest</th>
                <th scope="col">Changed</th>
                <th scope="col" class="num">
                  Fetched
                </th>
                <th scope="col">Checked</th>
              </tr>
            </thead>
            <tbody>
              {entry.tagStates.map((t) => (
                <tr key={t.tag} data-testid={`watch-tag-${entry.id}-${t.tag}`}>
                  <th scope="row" data-label="Tag" class="mono">
                    {t.tag}
                  </th>
                  <td data-label="Current digest" class="mono">
                    {t.digest ? <span title={t.digest}>{shortDigest(t.digest)}</span> : <span class="muted">–</span>}
                    {t.error ? (
                      <span class="field-error block" data-testid={`watch-tag-error-${t.tag}`}>
                        {t.error}
                      </span>
                    ) : null}
                  </td>
                  <td data-label="Changed">
                    <TimeAgo at={t.changedAt} />
                  </td>
                  <td data-label="Fetched" class="num">
                    {formatBytes(t.bytesFetched)}
                  </td>
                  <td data-label="Checked">
                    <TimeAgo at={t.checkedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

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

function AddEntryForm({ reload, upstreams }: { reload(): Promise<void>; upstreams: string[] }) {
  const { api, notify, reveal } = useApp();
  const empty = { upstream: upstreams[0] ?? '', repository: '', tags: '', newest: '', platforms: '', every: '6h', cron: '', jitter: '', keep: '' };
  const [form, setForm] = useState<Record<FieldKey, string>>(empty);
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const upstream = form.upstream || upstreams[0] || '';

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const found: Errors = {};
    if (!form.repository.trim()) found.repository = 'expected a repository as on the upstream, e.g. library/node';
    if (!form.every.trim() && !form.cron.trim()) found.every = 'set every or cron (one of them)';
    if (form.every.trim() && form.cron.trim()) found.cron = 'set every or cron, not both';
    setErrors(found);
    focusFirstError(found, 'watch');
    if (Object.keys(found).length) return;
    const number = (v: string): number | string => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());
    const body = {
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
    setBusy(true);
    try {
      const added = await api.send<WatchEntryView>('POST', '/api/watch', body);
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

  const input = (key: FieldKey, placeholder: string, inputMode?: 'numeric') => (
    <input
      id={`watch-${key}`}
      value={form[key]}
      placeholder={placeholder}
      autoComplete="off"
      spellcheck={false}
      inputMode={inputMode}
      aria-invalid={errors[key] ? true : undefined}
      aria-describedby={describedBy(`watch-${key}`, true, errors[key])}
      data-testid={`watch-${key}`}
      onInput={(e) => {
        const value = e.currentTarget.value;
        setForm((f) => ({ ...f, [key]: value }));
        setErrors((x) => ({ ...x, [key]: undefined }));
      }}
    />
  );

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
            <select
              id="watch-upstream"
              value={upstream}
              data-testid="watch-upstream"
              aria-describedby={describedBy('watch-upstream', true, errors.upstream)}
              onChange={(e) => {
                const value = e.currentTarget.value;
                setForm((f) => ({ ...f, upstream: value }));
              }}
            >
              {upstreams.map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          </Field>
          <Field id="watch-repository" label="Repository" hint="As on the upstream: library/node, team/app." error={errors.repository}>
            {input('repository', 'library/node')}
          </Field>
          <Field id="watch-tags" label="Tags" hint="Comma-separated; * for a pattern (22*, v*). Default: latest." error={errors.tags}>
            {input('tags', 'latest')}
          </Field>
          <Field id="watch-every" label="Every" hint="An interval, e.g. 6h; or leave empty and use cron." error={errors.every}>
            {input('every', '6h')}
          </Field>
          <Field id="watch-cron" label="Cron (UTC)" hint={'Instead of every, e.g. "0 6 * * 1-5".'} error={errors.cron}>
            {input('cron', '0 6 * * 1-5')}
          </Field>
          <Field id="watch-jitter" label="Jitter" hint="Start each run up to this much later, e.g. 10m." error={errors.jitter}>
            {input('jitter', '0s')}
          </Field>
          <Field id="watch-newest" label="Newest" hint="With patterns: only the newest N tags by version." error={errors.newest}>
            {input('newest', 'all', 'numeric')}
          </Field>
          <Field id="watch-platforms" label="Platforms" hint="Comma-separated os/arch; default what clients pulled." error={errors.platforms}>
            {input('platforms', 'linux/amd64')}
          </Field>
          <Field id="watch-keep" label="Keep" hint="Digests per tag kept from eviction (default 3)." error={errors.keep}>
            {input('keep', '3', 'numeric')}
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

export function WatchPage() {
  const watch = useResource<WatchList>('/api/watch', 10_000);
  const upstreams = useResource<UpstreamList>('/api/upstreams');
  const names = (upstreams.data?.upstreams ?? []).filter((u) => u.enabled).map((u) => u.name);
  return (
    <div class="page" data-testid="page-watch">
      <h1>Watch lists</h1>
      <p class="muted page-intro">
        Images kept fresh before anyone asks: on its schedule each entry checks its tags with a HEAD and fetches only what moved, within the
        upstream's pull quota.
      </p>
      {watch.data ? <Quotas quotas={watch.data.quotas} /> : null}
      <ResourceView resource={watch} isEmpty={(d) => d.entries.length === 0} testid="no-watch" empty="Nothing is watched yet: add an entry below, or in the config file (upstreams[].watch).">
        {(d) => (
          <div class="stack" data-testid="watch-entries">
            {d.entries.map((e) => (
              <EntryCard key={e.id} entry={e} reload={watch.reload} />
            ))}
          </div>
        )}
      </ResourceView>
      {upstreams.data ? <AddEntryForm reload={watch.reload} upstreams={names} /> : null}
    </div>
  );
}
