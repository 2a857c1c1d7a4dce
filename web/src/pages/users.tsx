// Registry users: Pullgate's own accounts that clients log in with when an upstream (or the whole mirror) has
// `access.login: required`. Users from the config file are read-only here; stored ones can be added, given a new
// password and removed. Passwords are write-only: the list never carries them.
import { useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { ResourceView } from '../components/resource-view.js';
import { focusFirstError, formErrors, type FormErrors } from '../form-errors.js';
import { useAction } from '../use-action.js';
import { TimeAgo } from '../components/time-ago.js';
import { useResource } from '../use-resource.js';
import type { RegistryUserList, SetupView } from '../types.js';

type UserView = RegistryUserList['users'][number];
const fieldKeys = ['username', 'password'] as const;
type Errors = FormErrors<(typeof fieldKeys)[number]>;

/** `https://mirror.example.com:5000` -> `mirror.example.com:5000`: what `docker login` takes. */
const loginHost = (mirror: string): string => {
  try {
    return new URL(mirror).host;
  } catch {
    return mirror;
  }
};

function LoginHelp() {
  // The setup view knows the mirror's address from the config (the same one the client snippets use).
  const setup = useResource<SetupView>('/api/setup');
  const host = setup.data ? loginHost(setup.data.mirror) : undefined;
  return (
    <section class="card" aria-labelledby="users-login-title">
      <h2 id="users-login-title">Logging in to the mirror</h2>
      <p class="muted">
        These are the mirror's own accounts: when an upstream requires a login, clients run <code>docker login</code> against this mirror with one of
        them (not with an account of the upstream registry).
      </p>
      <pre class="code" data-testid="users-login-command" aria-label="Login command">
        <code>{host ? `docker login ${host}` : 'Loading…'}</code>
      </pre>
      <p class="hint">
        <code>podman login</code>, <code>skopeo login</code> and <code>nerdctl login</code> take the same address; <code>ctr</code> takes{' '}
        <code>--user name:password</code> on each pull.
      </p>
    </section>
  );
}

function UserRow({ user, reload }: { user: UserView; reload(): Promise<void> }) {
  const { api } = useApp();
  const run = useAction();

  const remove = (): Promise<unknown> =>
    run({
      confirm: {
        title: `Remove user ${user.username}?`,
        body: <p>Clients logged in as {user.username} are refused from their next request on.</p>,
        confirmLabel: 'Remove user',
        danger: true,
      },
      act: () => api.send('DELETE', `/api/users/${encodeURIComponent(user.username)}`),
      done: `User ${user.username} removed.`,
      reload,
    });

  return (
    <tr data-testid={`user-row-${user.username}`} data-row-key={`user-${user.username}`}>
      <th scope="row" data-label="User">
        <span class="mono strong">{user.username}</span>
      </th>
      <td data-label="Source">
        {user.source === 'config' ? (
          <span class="badge source-config" title="From the config file: read-only here.">
            config
          </span>
        ) : (
          <span class="badge source-admin" title="Stored by Pullgate (added here or with pullgate user add).">
            stored
          </span>
        )}
      </td>
      <td data-label="Added">{user.createdAt !== null ? <TimeAgo at={user.createdAt} /> : <span class="muted">–</span>}</td>
      <td data-label="Actions" class="actions-cell">
        {user.source === 'config' ? (
          <span class="muted small">change it in the config file</span>
        ) : (
          <button type="button" class="button small danger" onClick={() => void remove()} data-testid={`user-delete-${user.username}`}>
            Remove
          </button>
        )}
      </td>
    </tr>
  );
}

function AddUserForm({ reload }: { reload(): Promise<void> }) {
  const { api, notify, reveal } = useApp();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const name = username.trim();
    const found: Errors = {};
    if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) found.username = 'letters, digits and . _ @ -, at most 64';
    if (password.length < 8) found.password = 'at least 8 characters';
    setErrors(found);
    focusFirstError(found, 'user');
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      await api.send<RegistryUserList>('POST', '/api/users', { username: name, password });
      setUsername('');
      setPassword('');
      await reload();
      notify(`User ${name} saved.`);
      reveal(`user-${name}`);
    } catch (err) {
      const next = formErrors(err, fieldKeys, 'username');
      setErrors(next);
      focusFirstError(next, 'user');
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="user-add-title">
      <h2 id="user-add-title">Add a user</h2>
      {errors.form ? (
        <p class="form-error" role="alert">
          {errors.form}
        </p>
      ) : null}
      <form class="inline-form" onSubmit={submit} noValidate data-testid="user-form">
        <Field id="user-username" label="Username" hint="Saving an existing stored user sets a new password." error={errors.username}>
          <input
            id="user-username"
            value={username}
            autoComplete="off"
            spellcheck={false}
            aria-invalid={errors.username ? true : undefined}
            aria-describedby={describedBy('user-username', true, errors.username)}
            onInput={(e) => {
              setUsername(e.currentTarget.value);
              setErrors((x) => ({ ...x, username: undefined }));
            }}
          />
        </Field>
        <Field id="user-password" label="Password" hint="At least 8 characters; kept only as a hash." error={errors.password}>
          <input
            id="user-password"
            type="password"
            value={password}
            autoComplete="new-password"
            aria-invalid={errors.password ? true : undefined}
            aria-describedby={describedBy('user-password', true, errors.password)}
            onInput={(e) => {
              setPassword(e.currentTarget.value);
              setErrors((x) => ({ ...x, password: undefined }));
            }}
          />
        </Field>
        <button type="submit" class="button primary" disabled={busy} data-testid="user-save">
          {busy ? 'Saving…' : 'Save user'}
        </button>
      </form>
    </section>
  );
}

export function UsersPage() {
  const users = useResource<RegistryUserList>('/api/users');
  return (
    <div class="page" data-testid="page-users">
      <h1>Registry users</h1>
      <LoginHelp />
      <ResourceView
        resource={users}
        isEmpty={(d) => d.users.length === 0}
        testid="no-users"
        empty="No user yet. Clients need one only where an upstream requires a login."
      >
        {(d) => (
          <section class="card flush" aria-label="Registry users">
            <div class="table-wrap">
              <table class="responsive users" data-testid="user-table">
                <thead>
                  <tr>
                    <th scope="col">User</th>
                    <th scope="col">Source</th>
                    <th scope="col">Added</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {d.users.map((u) => (
                    <UserRow key={u.username} user={u} reload={users.reload} />
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        )}
      </ResourceView>
      <AddUserForm reload={users.reload} />
    </div>
  );
}
