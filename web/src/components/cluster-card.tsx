// The dashboard's cluster card: the replicas sharing this cache through the bucket (`cache.storage: s3`), from their
// heartbeats, with their figures and the sum. Shown only when the cache is shared.
import type { z } from 'zod';
import type { clusterView } from '../../../src/admin/routes/cluster-routes.js';
import { formatBytes } from '../format.js';
import { useResource } from '../use-resource.js';
import { TimeAgo } from './time-ago.js';

type ClusterView = z.infer<typeof clusterView>;

export function ClusterCard() {
  const cluster = useResource<ClusterView>('/api/cluster', 15_000);
  const view = cluster.data;
  if (!view?.shared) return null;
  const { totals } = view;
  return (
    <section class="card" aria-labelledby="cluster-title" data-testid="cluster">
      <div class="card-head">
        <h2 id="cluster-title">Cluster</h2>
        <span class="muted">
          {view.replicas.length} {view.replicas.length === 1 ? 'replica' : 'replicas'} sharing the bucket
        </span>
      </div>
      {cluster.error ? <p class="field-error">{cluster.error}</p> : null}
      <div class="table-wrap">
        <table class="responsive" data-testid="cluster-replicas">
          <thead>
            <tr>
              <th scope="col">Replica</th>
              <th scope="col">Address</th>
              <th scope="col">Seen</th>
              <th scope="col" class="num">Served</th>
              <th scope="col" class="num">Fetched</th>
              <th scope="col" class="num">Hits</th>
              <th scope="col" class="num">Misses</th>
              <th scope="col" class="num">Fills</th>
            </tr>
          </thead>
          <tbody>
            {view.replicas.map((r) => (
              <tr key={r.id}>
                <th scope="row" data-label="Replica" class="mono">
                  {r.id}
                  {r.id === view.self ? <span class="muted"> (this one)</span> : null}
                </th>
                <td data-label="Address" class="mono ellipsis">{r.address}</td>
                <td data-label="Seen">
                  <TimeAgo at={r.lastSeenAt} />
                </td>
                <td class="num" data-label="Served">{formatBytes(r.bytesServed)}</td>
                <td class="num" data-label="Fetched">{formatBytes(r.bytesFetched)}</td>
                <td class="num" data-label="Hits">{r.hits}</td>
                <td class="num" data-label="Misses">{r.misses}</td>
                <td class="num" data-label="Fills">{r.fillsInFlight}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" data-label="Replica">All replicas</th>
              <td data-label="Address" />
              <td data-label="Seen" />
              <td class="num" data-label="Served">{formatBytes(totals.bytesServed)}</td>
              <td class="num" data-label="Fetched">{formatBytes(totals.bytesFetched)}</td>
              <td class="num" data-label="Hits">{totals.hits}</td>
              <td class="num" data-label="Misses">{totals.misses}</td>
              <td class="num" data-label="Fills">{totals.fillsInFlight}</td>
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}
