// Watch lists (docs/watch.md): images kept fresh before anyone asks. Each entry with its schedule, next and last run
// and the state of every tag it follows (current digest, when it moved, bytes fetched, errors); "Run now"; entries
// from the config file are read-only here, entries added here can be removed. Above them, each upstream's pull quota
// and what the quota governor held back.
import { ResourceView } from '../components/resource-view.js';
import { count, formatDateTime, pullsLeft } from '../format.js';
import { useResource } from '../use-resource.js';
import type { UpstreamList, WatchList, WatchQuotaView } from '../types.js';
import { AddEntryForm } from './watch-add-form.js';
import { EntryCard } from './watch-entry.js';

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
