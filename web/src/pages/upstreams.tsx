// Upstreams: every configured registry with where it comes from, its URLs and their circuits, its health, who may
// pull from it and its rate limit; admin-managed ones can be edited, tested, switched off and deleted here.
// Config-file and built-in ones are read-only.
import { useState } from 'preact/hooks';
import { errorMessage } from '../api.js';
import { useApp } from '../app-context.js';
import { AccessSummary } from '../components/access-summary.js';
import { HealthDot } from '../components/health-dot.js';
import { ResourceView } from '../components/resource-view.js';
import { SignaturePolicy } from '../components/signature-policy.js';
import { TestSteps } from '../components/test-steps.js';
import { UrlCircuits } from '../components/url-circuits.js';
import { pullsLeft } from '../format.js';
import { href, navigate } from '../router.js';
import { useAction } from '../use-action.js';
import { useResource } from '../use-resource.js';
import type { TestResult, UpstreamList, UpstreamView } from '../types.js';
import { UpstreamForm } from './upstream-form.js';

const sourceText: Record<UpstreamView['source'], string> = {
  config: 'From the config file: read-only here.',
  builtin: 'Built in: read-only here.',
  admin: 'Managed in this admin UI.',
};

/** Pulls left at the upstream (Docker Hub's ratelimit headers), once the upstream has reported them. */
function RateLimit({ u }: { u: UpstreamView }) {
  const rl = u.health.rateLimit;
  if (!rl || rl.remaining === undefined) return null;
  const low = rl.limit !== undefined && rl.remaining < rl.limit * 0.1;
  return (
    <span class={`small block nowrap${low ? ' warn-text' : ' muted'}`} title={`as of ${new Date(rl.at).toLocaleString()}`} data-testid={`upstream-ratelimit-${u.name}`}>
      {pullsLeft(rl)}
    </span>
  );
}

/** The registry's address, its URLs' circuits, and the host names clients use for it. */
function RegistryCell({ u }: { u: UpstreamView }) {
  return (
    <td data-label="Registry">
      <span class="mono block">{u.registry}</span>
      <UrlCircuits upstream={u} />
      {u.hosts.length ? (
        <span class="small block hosts-line" data-testid={`upstream-hosts-${u.name}`}>
          <span class="muted">clients use </span>
          {u.hosts.map((h) => (
            <span key={h} class="mono entry">
              {h}
            </span>
          ))}
        </span>
      ) : null}
    </td>
  );
}

/** The enabled switch; an upstream from the config file or built in shows its state in words instead. */
function EnabledCell({ u, reload }: { u: UpstreamView; reload(): Promise<void> }) {
  const { api } = useApp();
  const run = useAction();
  const [busy, setBusy] = useState(false);
  const readOnly = u.source !== 'admin';

  const toggle = async (): Promise<void> => {
    setBusy(true);
    await run({
      act: () => api.send('PATCH', `/api/upstreams/${encodeURIComponent(u.name)}`, { enabled: !u.enabled }),
      done: `Upstream ${u.name} ${u.enabled ? 'disabled' : 'enabled'}.`,
      reload,
      reveal: `upstream-${u.name}`,
    });
    setBusy(false);
  };

  return (
    <td data-label="Enabled">
      {readOnly ? (
        // Not a switch that only refuses: the state in words, and where to change it.
        <span class="readonly-state small" data-testid={`upstream-enabled-${u.name}`} title={sourceText[u.source]}>
          {u.enabled ? 'on' : 'off'} <span class="muted">({u.source === 'config' ? 'config file' : 'built in'})</span>
        </span>
      ) : (
        <button
          type="button"
          class="switch"
          role="switch"
          aria-checked={u.enabled}
          aria-label={`${u.name} enabled`}
          disabled={busy}
          onClick={() => void toggle()}
          data-testid={`upstream-toggle-${u.name}`}
        >
          <span class="switch-knob" aria-hidden="true" />
        </button>
      )}
    </td>
  );
}

function UpstreamRow({ u, reload, onTest, testing, result }: { u: UpstreamView; reload(): Promise<void>; onTest(u: UpstreamView): void; testing: boolean; result: TestResult | undefined }) {
  const { api } = useApp();
  const run = useAction();
  const readOnly = u.source !== 'admin';

  const remove = (): Promise<unknown> =>
    run({
      confirm: {
        title: `Delete upstream ${u.name}?`,
        body: (
          <p>
            Clients will no longer reach <strong>{u.registry}</strong> through this mirror. Its cached images stay until purged or evicted.
          </p>
        ),
        confirmLabel: 'Delete upstream',
        danger: true,
      },
      act: () => api.send('DELETE', `/api/upstreams/${encodeURIComponent(u.name)}`),
      done: `Upstream ${u.name} deleted.`,
      reload,
    });

  return (
    <>
      <tr data-testid={`upstream-row-${u.name}`} data-row-key={`upstream-${u.name}`}>
        <th scope="row" data-label="Name">
          <span class="name-cell">
            <span class="strong">{u.name}</span>
            <span class={`badge source-${u.source}`} title={sourceText[u.source]}>
              {u.source}
            </span>
            {u.default ? <span class="badge default">default</span> : null}
            {u.offline ? <span class="badge warn">offline</span> : null}
          </span>
        </th>
        <RegistryCell u={u} />
        <td data-label="Status" class="status-cell">
          <HealthDot health={u.health} enabled={u.enabled} testid={`upstream-status-${u.name}`} />
          <RateLimit u={u} />
        </td>
        <td data-label="Access">
          <AccessSummary upstream={u} />
          <SignaturePolicy upstream={u} />
        </td>
        <EnabledCell u={u} reload={reload} />
        <td data-label="Actions" class="actions-cell">
          <button type="button" class="button small" onClick={() => onTest(u)} disabled={testing} data-testid={`upstream-test-${u.name}`}>
            {testing ? 'Testing…' : 'Test'}
          </button>
          {readOnly ? null : (
            <>
              <a class="button small" href={href('upstreams', 'edit', u.name)} data-testid={`upstream-edit-${u.name}`}>
                Edit
              </a>
              <button type="button" class="button small danger" onClick={() => void remove()} data-testid={`upstream-delete-${u.name}`}>
                Delete
              </button>
            </>
          )}
        </td>
      </tr>
      {result ? (
        // The result sits right under the row it is about.
        <tr class="row-detail" data-testid={`upstream-test-result-${u.name}`}>
          <td colSpan={6}>
            <TestSteps result={result} title={`Test of ${u.name}`} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function UpstreamTable({ list, reload }: { list: UpstreamView[]; reload(): Promise<void> }) {
  const { api, notify } = useApp();
  const [testing, setTesting] = useState<string | undefined>(undefined);
  const [result, setResult] = useState<{ name: string; result: TestResult } | undefined>(undefined);

  const test = async (u: UpstreamView): Promise<void> => {
    setTesting(u.name);
    setResult(undefined);
    try {
      const r = await api.send<TestResult>('POST', `/api/upstreams/${encodeURIComponent(u.name)}/test`, {});
      // The test talked to the upstream: its status is news too.
      await reload();
      setResult({ name: u.name, result: r });
    } catch (err) {
      notify(errorMessage(err), 'error');
    } finally {
      setTesting(undefined);
    }
  };

  return (
    <section class="card flush" aria-label="Upstreams">
      <div class="table-wrap">
        <table class="responsive upstreams" data-testid="upstream-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Registry, URLs and mirror hosts</th>
              <th scope="col">Status</th>
              <th scope="col">Access</th>
              <th scope="col">Enabled</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((u) => (
              <UpstreamRow
                key={u.name}
                u={u}
                reload={reload}
                onTest={(x) => void test(x)}
                testing={testing === u.name}
                result={result?.name === u.name ? result.result : undefined}
              />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function UpstreamsPage({ route }: { route: string[] }) {
  const upstreams = useResource<UpstreamList>('/api/upstreams', 15_000);
  const { reveal } = useApp();
  const [mode, name] = route;
  const list = upstreams.data?.upstreams;

  if (mode === 'new' || mode === 'edit') {
    const existing = mode === 'edit' ? list?.find((u) => u.name === name) : undefined;
    // Saved: the list is reloaded before the page goes back to it, so it shows the change at once, in view.
    const onSaved = async (saved: string): Promise<void> => {
      await upstreams.reload();
      navigate('upstreams');
      reveal(`upstream-${saved}`);
    };
    return (
      <div class="page narrow" data-testid="page-upstream-form">
        <p class="crumbs">
          <a href={href('upstreams')}>Upstreams</a> / {mode === 'new' ? 'new' : name}
        </p>
        {mode === 'edit' && !existing ? (
          <p class="empty" data-testid="upstream-missing">
            {upstreams.loading || !list ? 'Loading…' : `No upstream named ${name ?? ''}.`}
          </p>
        ) : (
          <UpstreamForm key={existing?.name ?? 'new'} {...(existing ? { existing } : {})} onSaved={onSaved} />
        )}
      </div>
    );
  }

  return (
    <div class="page" data-testid="page-upstreams">
      <div class="page-head">
        <h1>Upstreams</h1>
        <a class="button primary" href={href('upstreams', 'new')} data-testid="upstream-add">
          Add upstream
        </a>
      </div>
      <ResourceView resource={upstreams} isEmpty={(d) => d.upstreams.length === 0} empty="No upstream yet. Add one to start mirroring.">
        {(d) => <UpstreamTable list={d.upstreams} reload={upstreams.reload} />}
      </ResourceView>
    </div>
  );
}
