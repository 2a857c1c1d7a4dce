// One watch entry on the Watch page (watch.tsx, docs/watch.md): its schedule, next and last run, the state of every
// tag it follows, and "Run now" / Delete.
import { useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { TimeAgo } from '../components/time-ago.js';
import { count, durationText, formatBytes, shortDigest } from '../format.js';
import { useAction } from '../use-action.js';
import type { WatchEntryView, WatchRunResult } from '../types.js';

export const scheduleText = (e: Pick<WatchEntryView, 'everyMs' | 'cron' | 'jitterMs'>): string =>
  `${e.everyMs !== undefined ? `every ${durationText(e.everyMs)}` : `cron ${e.cron ?? '?'} (UTC)`}${e.jitterMs ? `, up to ${durationText(e.jitterMs)} later` : ''}`;

const resultClass: Record<string, string> = { ok: 'good', failed: 'bad', held: 'warn', running: 'state-running' };

/** "Run now" (a run that failed or was held back stays up as an error) and Delete (after a confirmation). */
function useEntryActions(entry: WatchEntryView, reload: () => Promise<void>, key: string) {
  const { api } = useApp();
  const run = useAction();
  const [busy, setBusy] = useState(false);

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
  return { busy, runNow, remove };
}

/** The result of the last run: its badge, when, what moved, and the tags skipped over maxTags. */
function LastRun({ entry }: { entry: WatchEntryView }) {
  const last = entry.lastRun;
  if (!last) return <span class="muted">never</span>;
  return (
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
  );
}

/** Tags, schedule, next and last run, platforms and how many digests are kept. */
function EntryFacts({ entry }: { entry: WatchEntryView }) {
  return (
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
          <LastRun entry={entry} />
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
  );
}

/** Every tag the entry follows: its current digest (or error), when it moved, bytes fetched and when it was checked. */
function TagStates({ entry }: { entry: WatchEntryView }) {
  return entry.tagStates.length === 0 ? (
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
  );
}

/** The entry's name and source, its actions, its facts, the last run's message and its tags. */
export function EntryCard({ entry, reload }: { entry: WatchEntryView; reload(): Promise<void> }) {
  const key = `watch-${entry.id}`;
  const { busy, runNow, remove } = useEntryActions(entry, reload, key);
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
      <EntryFacts entry={entry} />
      {last?.message && last.result !== 'ok' ? (
        <p class={last.result === 'failed' ? 'form-error' : 'warning-box'} data-testid={`watch-message-${entry.id}`}>
          {last.message}
        </p>
      ) : null}
      <TagStates entry={entry} />
    </section>
  );
}

