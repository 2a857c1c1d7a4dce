// The dashboard: a strip with each upstream's status, hit ratio and pulls left; cache totals (Saved is what the cache
// served itself, prefetched bytes are shown on their own); the cluster (with shared storage); traffic served vs
// fetched over time; watch list events; fills in flight and the latest requests. Each strip tile also says what the
// quota governor held back (docs/watch.md).
import { useState } from 'preact/hooks';
import { ClusterCard } from '../components/cluster-card.js';
import { statusOf } from '../components/health-dot.js';
import { ProgressBar } from '../components/progress-bar.js';
import { TimeAgo } from '../components/time-ago.js';
import { TrafficChart } from '../components/traffic-chart.js';
import { count, formatBytes, formatDuration, formatPercent, formatRate, pullsLeft, shortDigest } from '../format.js';
import { useActivity } from '../use-activity.js';
import { useResource } from '../use-resource.js';
import { href } from '../router.js';
import type { CacheSummary, FillView, RequestView, TrafficSeries, UpstreamList, UpstreamView, WatchEventView } from '../types.js';

const periods = [
  { hours: 1, label: '1 h' },
  { hours: 24, label: '24 h' },
  { hours: 24 * 7, label: '7 d' },
  { hours: 24 * 30, label: '30 d' },
];

function Stat({ label, value, detail, testid }: { label: string; value: string; detail?: string; testid?: string }) {
  return (
    <div class="stat" data-testid={testid}>
      <dt>{label}</dt>
      <dd>
        <span class="stat-value">{value}</span>
        {detail ? <span class="stat-detail">{detail}</span> : null}
      </dd>
    </div>
  );
}

function Totals({ summary }: { summary: CacheSummary }) {
  const { traffic } = summary;
  const fill = summary.maxSize > 0 ? summary.size / summary.maxSize : 0;
  return (
    <section class="card" aria-labelledby="totals-title">
      <h2 id="totals-title">Totals</h2>
      <dl class="stats">
        <Stat label="Cache size" value={formatBytes(summary.size)} detail={`of ${formatBytes(summary.maxSize)} (${formatPercent(fill)})`} testid="stat-size" />
        <Stat label="Served" value={formatBytes(traffic.bytesServed)} detail="to clients" testid="stat-served" />
        <Stat label="Fetched" value={formatBytes(traffic.bytesFetched)} detail="from upstreams" testid="stat-fetched" />
        <Stat label="Saved" value={formatBytes(traffic.bytesSaved)} detail="served from the cache" testid="stat-saved" />
        <Stat label="Prefetched" value={formatBytes(traffic.bytesPrefetched)} detail="fetched ahead of clients" testid="stat-prefetched" />
        <Stat label="Hit ratio" value={formatPercent(traffic.hitRatio)} detail={`${count(traffic.hits, 'hit')}, ${count(traffic.misses, 'miss', 'misses')}`} />
        <Stat label="Content" value={count(summary.manifests, 'manifest')} detail={`${count(summary.blobs, 'blob')}, ${count(summary.tags, 'tag')}`} />
      </dl>
      <ProgressBar done={summary.size} total={summary.maxSize} label="Cache size against its cap" />
      {summary.disk ? (
        <p class="muted small stat-foot" data-testid="dashboard-disk">
          Disk: {formatBytes(summary.disk.used)} used, {formatBytes(summary.disk.free)} free of {formatBytes(summary.disk.total)}.
        </p>
      ) : null}
    </section>
  );
}

function Traffic() {
  const [hours, setHours] = useState(24);
  const traffic = useResource<TrafficSeries>(`/api/cache/traffic?hours=${hours}`, 60_000);
  return (
    <section class="card" aria-labelledby="traffic-title">
      <div class="card-head">
        <h2 id="traffic-title">Traffic</h2>
        <div class="segmented" role="group" aria-label="Period">
          {periods.map((p) => (
            <button key={p.hours} type="button" aria-pressed={p.hours === hours} onClick={() => setHours(p.hours)}>
              {p.label}
            </button>
          ))}
        </div>
      </div>
      {traffic.error ? <p class="field-error">{traffic.error}</p> : null}
      {traffic.data ? <TrafficChart series={traffic.data} /> : <p class="empty">Loading…</p>}
    </section>
  );
}

function Fills({ fills, live }: { fills: FillView[] | undefined; live: boolean }) {
  return (
    <section class="card" aria-labelledby="fills-title">
      <div class="card-head">
        <h2 id="fills-title">In-flight fills</h2>
        <span class={`live ${live ? 'on' : 'off'}`}>{live ? 'live' : 'reconnecting…'}</span>
      </div>
      {!fills || fills.length === 0 ? (
        <p class="empty" data-testid="no-fills">
          No blob is being fetched right now.
        </p>
      ) : (
        <ul class="fills" data-testid="fills">
          {fills.map((f) => (
            <li key={f.digest}>
              <div class="fill-head">
                <span class="mono">
                  {f.upstream}/{f.repository}
                </span>
                <span class="muted mono" title={f.digest}>
                  {shortDigest(f.digest)}
                </span>
              </div>
              <ProgressBar done={f.bytesDone} total={f.bytesTotal} label={`${f.repository} ${shortDigest(f.digest)}`} />
              <div class="fill-meta muted">
                {formatBytes(f.bytesDone)}
                {f.bytesTotal !== null ? ` of ${formatBytes(f.bytesTotal)}` : ''} · {formatRate(f.rate)} · {f.followers}{' '}
                {f.followers === 1 ? 'reader' : 'readers'} · started <TimeAgo at={f.startedAt} />
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function statusClass(status: number): string {
  return status >= 500 ? 'bad' : status >= 400 ? 'warn' : 'good';
}

function Requests({ recent }: { recent: RequestView[] }) {
  return (
    <section class="card" aria-labelledby="requests-title">
      <h2 id="requests-title">Latest requests</h2>
      {recent.length === 0 ? (
        <p class="empty">No registry request yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="responsive requests" data-testid="requests">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Request</th>
                <th scope="col">Status</th>
                <th scope="col">Cache</th>
                <th scope="col" class="num">Size</th>
                <th scope="col" class="num">Time</th>
              </tr>
            </thead>
            <tbody>
              {recent.map((r, i) => (
                <tr key={`${r.at}-${i}`}>
                  <td data-label="When">
                    <TimeAgo at={r.at} />
                  </td>
                  <td data-label="Request" class="mono ellipsis" title={`${r.method} ${r.upstream ?? ''}/${r.repository ?? ''} ${r.kind ?? ''} ${r.reference ?? ''} from ${r.client}`}>
                    {r.method} {r.upstream ? `${r.upstream}/` : ''}
                    {r.repository ?? <span class="muted">/v2/</span>}
                    {r.reference ? (r.reference.includes(':') ? `@${shortDigest(r.reference)}` : `:${r.reference}`) : ''}
                  </td>
                  <td data-label="Status">
                    <span class={`badge ${statusClass(r.status)}`}>{r.status}</span>
                  </td>
                  <td data-label="Cache">{r.cache ?? '–'}</td>
                  <td data-label="Size" class="num">{formatBytes(r.bytes)}</td>
                  <td data-label="Time" class="num">{formatDuration(r.ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Pulls left at the upstream (Docker Hub's ratelimit headers), as it last reported them. */
function PullsLeft({ u }: { u: UpstreamView }) {
  const rl = u.health.rateLimit;
  if (!rl || rl.remaining === undefined) return null;
  const low = rl.limit !== undefined && rl.remaining < rl.limit * 0.1;
  return (
    <span class={`small${low ? ' warn-text' : ''}`} data-testid={`strip-ratelimit-${u.name}`} title={`as reported ${new Date(rl.at).toLocaleString()}`}>
      {pullsLeft(rl)}
    </span>
  );
}

/** What the quota governor held back for this upstream (docs/watch.md), once it held anything back. */
function HeldBack({ u }: { u: UpstreamView }) {
  const { heldBack, pausedUntil } = u.quota;
  if (!heldBack.watch && !heldBack.live && pausedUntil === undefined) return null;
  return (
    <span class="small warn-text" data-testid={`strip-heldback-${u.name}`} title={`background work stops below ${u.quota.reserve} pulls left`}>
      held back:{' '}
      {[heldBack.watch ? count(heldBack.watch, 'watch step') : '', heldBack.live ? `${count(heldBack.live, 'tag')} served stale` : ''].filter(Boolean).join(', ') || 'paused'}
      {pausedUntil !== undefined && pausedUntil > Date.now() ? <> · paused until {new Date(pausedUntil).toLocaleTimeString()}</> : null}
    </span>
  );
}

/** One compact tile per upstream: its status in words, hit ratio, bytes served and pulls left where it says. */
function UpstreamStrip({ summary }: { summary: CacheSummary | undefined }) {
  const upstreams = useResource<UpstreamList>('/api/upstreams', 15_000);
  const list = upstreams.data?.upstreams;
  // Both answers first: a hit ratio of "–" while the figures load would read as "no traffic".
  if (!list?.length || !summary) return null;
  return (
    <section class="strip" aria-label="Upstreams at a glance" data-testid="upstream-strip">
      {list.map((u) => {
        const status = statusOf(u.health, u.enabled);
        const traffic = summary.upstreams.find((x) => x.name === u.name)?.traffic;
        return (
          <a key={u.name} class={`tile health-${status.state}`} href={href('upstreams')} data-testid={`strip-${u.name}`} data-state={status.state} title={status.detail || status.word}>
            <span class="tile-head">
              <span class="dot" aria-hidden="true" />
              <span class="strong">{u.name}</span>
              <span class="tile-status">{status.word}</span>
            </span>
            <span class="small muted">
              hit ratio <span data-testid={`strip-hit-${u.name}`}>{formatPercent(traffic?.hitRatio ?? null)}</span> · {formatBytes(traffic?.bytesServed ?? 0)} served
            </span>
            <PullsLeft u={u} />
            <HeldBack u={u} />
          </a>
        );
      })}
    </section>
  );
}

const watchWords: Record<WatchEventView['type'], string> = { 'tag-moved': 'moved', 'run-failed': 'run failed', 'run-held': 'run held back' };

/** Watch list events as they happen: a watched tag moved, a run failed or the quota governor held one back. */
function WatchEvents({ events }: { events: WatchEventView[] }) {
  if (events.length === 0) return null;
  return (
    <section class="card" aria-labelledby="watch-events-title">
      <div class="card-head">
        <h2 id="watch-events-title">Watch lists</h2>
        <a href={href('watch')} class="small">
          All watch lists
        </a>
      </div>
      <ul class="watch-events" data-testid="watch-events">
        {events.map((e, i) => (
          <li key={`${e.at}-${i}`} data-type={e.type}>
            <span class={`badge ${e.type === 'tag-moved' ? 'good' : e.type === 'run-failed' ? 'bad' : 'warn'}`}>{watchWords[e.type]}</span>{' '}
            <span class="mono break">{e.type === 'tag-moved' ? `${e.upstream}/${e.repository ?? ''}:${e.tag ?? ''}` : e.entry}</span>{' '}
            <span class="muted small">
              {e.type === 'tag-moved' ? (
                <>
                  {e.from ? `${shortDigest(e.from)} → ` : ''}
                  {e.to ? shortDigest(e.to) : ''} · {formatBytes(e.bytes ?? 0)} fetched ·{' '}
                </>
              ) : (
                <>{e.message} · </>
              )}
              <TimeAgo at={e.at} />
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function DashboardPage() {
  const summary = useResource<CacheSummary>('/api/cache/summary', 10_000);
  const activity = useActivity();
  return (
    <div class="page" data-testid="page-dashboard">
      <h1>Dashboard</h1>
      <UpstreamStrip summary={summary.data} />
      {summary.error ? <p class="form-error">{summary.error}</p> : null}
      {summary.data ? <Totals summary={summary.data} /> : <section class="card"><p class="empty">Loading…</p></section>}
      <ClusterCard />
      <Traffic />
      <WatchEvents events={activity.watch} />
      <Fills fills={activity.snapshot?.fills} live={activity.live} />
      <Requests recent={activity.recent} />
    </div>
  );
}
