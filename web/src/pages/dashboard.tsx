// The dashboard: cache totals, the cluster (with shared storage), traffic served vs fetched over time, fills in flight and the latest requests.
import { useState } from 'preact/hooks';
import { ClusterCard } from '../components/cluster-card.js';
import { ProgressBar } from '../components/progress-bar.js';
import { TimeAgo } from '../components/time-ago.js';
import { TrafficChart } from '../components/traffic-chart.js';
import { count, formatBytes, formatDuration, formatPercent, formatRate, shortDigest } from '../format.js';
import { useActivity } from '../use-activity.js';
import { useResource } from '../use-resource.js';
import type { CacheSummary, FillView, RequestView, TrafficSeries } from '../types.js';

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
        <Stat label="Fetched" value={formatBytes(traffic.bytesFetched)} detail="from upstreams" />
        <Stat label="Saved" value={formatBytes(traffic.bytesSaved)} detail="upstream traffic avoided" />
        <Stat label="Hit ratio" value={formatPercent(traffic.hitRatio)} detail={`${count(traffic.hits, 'hit')}, ${count(traffic.misses, 'miss', 'misses')}`} />
        <Stat label="Content" value={count(summary.manifests, 'manifest')} detail={`${count(summary.blobs, 'blob')}, ${count(summary.tags, 'tag')}`} />
      </dl>
      <ProgressBar done={summary.size} total={summary.maxSize} label="Cache size against its cap" />
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

function PerUpstream({ summary }: { summary: CacheSummary }) {
  if (summary.upstreams.length === 0) return null;
  return (
    <section class="card" aria-labelledby="per-upstream-title">
      <h2 id="per-upstream-title">By upstream</h2>
      <div class="table-wrap">
        <table class="responsive">
          <thead>
            <tr>
              <th scope="col">Upstream</th>
              <th scope="col" class="num">Repositories</th>
              <th scope="col" class="num">Served</th>
              <th scope="col" class="num">Fetched</th>
              <th scope="col" class="num">Hit ratio</th>
            </tr>
          </thead>
          <tbody>
            {summary.upstreams.map((u) => (
              <tr key={u.name}>
                <th scope="row" data-label="Upstream">{u.name}</th>
                <td class="num" data-label="Repositories">{u.repositories}</td>
                <td class="num" data-label="Served">{formatBytes(u.traffic.bytesServed)}</td>
                <td class="num" data-label="Fetched">{formatBytes(u.traffic.bytesFetched)}</td>
                <td class="num" data-label="Hit ratio">{formatPercent(u.traffic.hitRatio)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function DashboardPage() {
  const summary = useResource<CacheSummary>('/api/cache/summary', 10_000);
  const activity = useActivity();
  return (
    <div class="page" data-testid="page-dashboard">
      <h1>Dashboard</h1>
      {summary.error ? <p class="field-error">{summary.error}</p> : null}
      {summary.data ? <Totals summary={summary.data} /> : <section class="card"><p class="empty">Loading…</p></section>}
      <ClusterCard />
      <Traffic />
      <div class="two-columns">
        <Fills fills={activity.snapshot?.fills} live={activity.live} />
        {summary.data ? <PerUpstream summary={summary.data} /> : null}
      </div>
      <Requests recent={activity.recent} />
    </div>
  );
}
