// Metrics of the whole machine (docs/workers.md): the admin lives in the lead worker, and its /metrics asks the
// supervisor, which gathers every worker's registry through prom-client's AggregatorRegistry (counters and
// gauges summed over the workers) and answers with the text.
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { isMetricsAnswer, type SupervisorMessage, type WorkerMessage } from './worker-context.js';

export interface Exposition {
  contentType: string;
  body: string;
}

const timeoutMs = 10_000;

type Aggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';

/**
 * Gauges that every worker reads from the shared database, or that say what one worker last saw: summing them over
 * the workers would multiply the cache's size by their number.
 */
const machineAggregators: Record<string, Aggregator> = {
  pullgate_cache_size_bytes: 'max',
  pullgate_cache_entries: 'max',
  pullgate_upstream_ratelimit_remaining: 'min',
  pullgate_upstream_ratelimit_limit: 'max',
  pullgate_upstream_circuit_state: 'max',
  pullgate_upstream_consecutive_failures: 'max',
};

/** A worker's registry as the supervisor collects it: with the machine-wide aggregation of each metric. */
class WorkerView extends Registry {
  constructor(private readonly inner: Registry) {
    super();
  }

  override async getMetricsAsJSON(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    const all = await this.inner.getMetricsAsJSON();
    return all.map((m) => {
      const aggregator = machineAggregators[m.name];
      return aggregator ? { ...m, aggregator } : m;
    });
  }
}

/** In a worker: answers the supervisor's collection with `registry`, and asks for the machine's metrics. */
export function shareWorkerMetrics(registry: Registry): () => Promise<Exposition> {
  // Constructing one adds prom-client's worker-side listener; setRegistries picks what it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([new WorkerView(registry)]);
  let next = 0;
  const pending = new Map<number, (m: Extract<SupervisorMessage, { type: 'pullgate:metrics' }>) => void>();
  process.on('message', (m: unknown) => {
    if (isMetricsAnswer(m)) pending.get(m.id)?.(m);
  });
  return () =>
    new Promise<Exposition>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the supervisor did not answer with the machine metrics'));
      }, timeoutMs);
      pending.set(id, (m) => {
        clearTimeout(timer);
        pending.delete(id);
        if (m.body !== undefined) resolve({ contentType: registry.contentType, body: m.body });
        else reject(new Error(m.error ?? 'machine metrics failed'));
      });
      const request: WorkerMessage = { type: 'pullgate:metrics-request', id };
      process.send?.(request);
    });
}

/** In the supervisor: the aggregated text of every live worker's registry. */
export function machineMetricsCollector(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}
