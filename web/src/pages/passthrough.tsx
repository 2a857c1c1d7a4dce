// TLS passthrough: connections to the HTTPS listener whose server name (SNI) matches a route are piped, still
// encrypted, to the route's backend; Pullgate holds no certificate for them and never sees inside. Routes from the
// config file are read-only here; routes added here apply to the next connection. Counters refresh on their own.
import { useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { ResourceView } from '../components/resource-view.js';
import { focusFirstError, formErrors, type FormErrors } from '../form-errors.js';
import { useAction } from '../use-action.js';
import { formatBytes } from '../format.js';
import { useResource } from '../use-resource.js';
import type { PassthroughCreate, PassthroughList, PassthroughRouteView } from '../types.js';

const fieldKeys = ['sni', 'to'] as const;
type FieldKey = (typeof fieldKeys)[number];
type Errors = FormErrors<FieldKey>;

const sniPattern = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const backendPattern = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function RouteRow({ route, reload }: { route: PassthroughRouteView; reload(): Promise<void> }) {
  const { api } = useApp();
  const run = useAction();
  const { stats } = route;

  const remove = (): Promise<unknown> =>
    run({
      confirm: {
      title: `Delete the route for ${route.sni}?`,
      body: (
        <p>
          New connections for <strong>{route.sni}</strong> are no longer passed to {route.to}
          {stats.active ? `; the ${stats.active} open now keep going until they close.` : '.'}
        </p>
      ),
      confirmLabel: 'Delete route',
      danger: true,
      },
      act: () => api.send('DELETE', `/api/passthrough/${encodeURIComponent(route.sni)}`),
      done: `Route for ${route.sni} deleted.`,
      reload,
    });

  return (
    <tr data-testid={`route-row-${route.sni}`} data-row-key={`route-${route.sni}`}>
      <th scope="row" data-label="Server name">
        <span class="name-cell">
          <span class="mono strong break">{route.sni}</span>
          <span class={`badge source-${route.source}`} title={route.source === 'config' ? 'From the config file: read-only here.' : 'Managed in this admin UI.'}>
            {route.source}
          </span>
        </span>
      </th>
      <td data-label="Backend" class="mono break">
        {route.to}
      </td>
      <td data-label="Connections" class="num">
        {stats.connections}
        {stats.active ? <span class="badge good conn-active">{stats.active} open</span> : null}
      </td>
      <td data-label="To backend" class="num">
        {formatBytes(stats.bytesIn)}
      </td>
      <td data-label="To clients" class="num">
        {formatBytes(stats.bytesOut)}
      </td>
      <td data-label="Actions" class="actions-cell">
        {route.source === 'config' ? (
          <span class="muted small">change it in the config file</span>
        ) : (
          <button type="button" class="button small danger" onClick={() => void remove()} data-testid={`route-delete-${route.sni}`}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}

function AddRouteForm({ reload }: { reload(): Promise<void> }) {
  const { api, notify, reveal } = useApp();
  const [sni, setSni] = useState('');
  const [to, setTo] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const route: PassthroughCreate = { sni: sni.trim(), to: to.trim() };
    // Quick checks; the server has the last word (duplicates, clashes with the mirror's own hostnames).
    const found: Errors = {};
    if (!sniPattern.test(route.sni)) found.sni = 'expected a lower-case host name or *.domain';
    if (!backendPattern.test(route.to)) found.to = 'expected host:port, ipv4:port or [ipv6]:port';
    setErrors(found);
    focusFirstError(found, 'route');
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await api.send<PassthroughList>('POST', '/api/passthrough', route);
      setSni('');
      setTo('');
      await reload();
      notify(`Connections for ${route.sni} now go to ${route.to}.`);
      reveal(`route-${route.sni}`);
    } catch (err) {
      // `sni`, `to`, or a path into the whole list (`tls.passthrough.3.sni`): the last segment names the field.
      const next = formErrors(err, fieldKeys, 'sni');
      setErrors(next);
      focusFirstError(next, 'route');
    } finally {
      setBusy(false);
    }
  };

  const input = (key: FieldKey, value: string, setValue: (v: string) => void, placeholder: string) => (
    <input
      id={`route-${key}`}
      value={value}
      placeholder={placeholder}
      autoComplete="off"
      spellcheck={false}
      aria-invalid={errors[key] ? true : undefined}
      aria-describedby={describedBy(`route-${key}`, true, errors[key])}
      onInput={(e) => {
        setValue(e.currentTarget.value);
        setErrors((x) => ({ ...x, [key]: undefined }));
      }}
    />
  );

  return (
    <section class="card" aria-labelledby="route-add-title">
      <h2 id="route-add-title">Add a route</h2>
      {errors.form ? (
        <p class="form-error" role="alert">
          {errors.form}
        </p>
      ) : null}
      <form class="inline-form" onSubmit={submit} noValidate data-testid="route-form">
        <Field id="route-sni" label="Server name (SNI)" hint="A host name, or *.domain for one more label." error={errors.sni}>
          {input('sni', sni, setSni, 'registry.internal.example')}
        </Field>
        <Field id="route-to" label="Backend" hint="Where the connections go: host:port." error={errors.to}>
          {input('to', to, setTo, '10.0.0.5:443')}
        </Field>
        <button type="submit" class="button primary" disabled={busy} data-testid="route-save">
          {busy ? 'Saving…' : 'Add route'}
        </button>
      </form>
    </section>
  );
}

export function PassthroughPage() {
  const routes = useResource<PassthroughList>('/api/passthrough', 5000);
  return (
    <div class="page" data-testid="page-passthrough">
      <h1>TLS passthrough</h1>
      <p class="muted page-intro">
        Connections to the mirror's HTTPS port whose server name matches a route go on to its backend still encrypted: Pullgate holds no
        certificate for them and does not cache them.
      </p>
      <ResourceView
        resource={routes}
        isEmpty={(d) => d.routes.length === 0}
        testid="no-routes"
        empty="No route: every connection to the HTTPS port is answered by the mirror itself."
      >
        {(d) => (
          <section class="card flush" aria-label="Passthrough routes">
            <div class="table-wrap">
              <table class="responsive routes" data-testid="route-table">
                <thead>
                  <tr>
                    <th scope="col">Server name</th>
                    <th scope="col">Backend</th>
                    <th scope="col" class="num">
                      Connections
                    </th>
                    <th scope="col" class="num">
                      To backend
                    </th>
                    <th scope="col" class="num">
                      To clients
                    </th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {d.routes.map((r) => (
                    <RouteRow key={r.sni} route={r} reload={routes.reload} />
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        )}
      </ResourceView>
      <AddRouteForm reload={routes.reload} />
    </div>
  );
}
