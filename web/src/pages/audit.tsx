// The audit log: every change made through the admin (this UI or the API), newest first: when, who (the admin's
// session or an API token by its name) and from where, what (the route in words and what it acted on), and how it
// ended. Secrets in a request are never recorded (src/admin/audit-log.ts).
import { useState } from 'preact/hooks';
import { ResourceView } from '../components/resource-view.js';
import { TimeAgo } from '../components/time-ago.js';
import { useApp } from '../app-context.js';
import { errorMessage } from '../api.js';
import { useResource } from '../use-resource.js';
import type { AuditEntry, AuditList } from '../types.js';

const pageSize = 50;

function Row({ e }: { e: AuditEntry }) {
  return (
    <tr data-testid="audit-entry" data-action={e.action} data-outcome={e.outcome} data-via={e.via}>
      <td data-label="When" class="nowrap">
        <TimeAgo at={e.at} />
      </td>
      <th scope="row" data-label="Who">
        <span class="strong">{e.actor}</span>
        <span class="muted small block">
          {e.via === 'token' ? 'API token' : e.via === 'session' ? 'login session' : 'not logged in'} · {e.client || 'unknown address'}
        </span>
      </th>
      <td data-label="What">
        {/* The route's summary is written for the API document: its code marks are left out here. */}
        <span class="block">{e.summary.replaceAll('`', '')}</span>
        {e.target ? <span class="mono small block break">{e.target}</span> : null}
        <span class="muted small mono block">{e.action}</span>
      </td>
      <td data-label="Result">
        <span class={`badge ${e.outcome === 'ok' ? 'good' : 'bad'}`}>{e.outcome === 'ok' ? 'done' : e.outcome.toLowerCase().replaceAll('_', ' ')}</span>
      </td>
      <td data-label="Request" class="small">
        {e.detail ? (
          <details>
            <summary>body</summary>
            <pre class="code small">
              <code>{e.detail}</code>
            </pre>
          </details>
        ) : (
          <span class="muted">–</span>
        )}
      </td>
    </tr>
  );
}

export function AuditPage() {
  const { api } = useApp();
  const first = useResource<AuditList>(`/api/audit?limit=${pageSize}`, 15_000);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState<string | undefined>(undefined);
  const entries = [...(first.data?.entries ?? []), ...older];
  const loadMore = async (): Promise<void> => {
    const last = entries.at(-1);
    if (!last) return;
    try {
      const next = await api.get<AuditList>(`/api/audit?limit=${pageSize}&before=${last.id}`);
      setOlder((o) => [...o, ...next.entries]);
      setMore(next.entries.length < pageSize ? 'That is the whole log.' : undefined);
    } catch (err) {
      setMore(errorMessage(err));
    }
  };
  return (
    <div class="page" data-testid="page-audit">
      <h1>Audit log</h1>
      <p class="muted page-intro">Every change made through this admin UI or the admin API, newest first. Passwords and tokens in a request are never recorded.</p>
      <ResourceView resource={first} testid="audit" isEmpty={(d) => d.entries.length === 0} empty="No change recorded yet.">
        {() => (
          <section class="card flush" aria-label="Admin actions">
            <div class="table-wrap">
              <table class="responsive audit" data-testid="audit-table">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Who</th>
                    <th scope="col">What</th>
                    <th scope="col">Result</th>
                    <th scope="col">Request</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((e) => (
                    <Row key={e.id} e={e} />
                  ))}
                </tbody>
              </table>
            </div>
            {entries.length >= pageSize && !more ? (
              <div class="card-foot">
                <button type="button" class="button" onClick={() => void loadMore()}>
                  Older entries
                </button>
              </div>
            ) : more ? (
              <p class="card-foot muted">{more}</p>
            ) : null}
          </section>
        )}
      </ResourceView>
    </div>
  );
}
