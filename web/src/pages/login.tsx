// The login page: one password field. 401 and 429 get their own words; the field keeps focus for a retry.
import { useRef, useState } from 'preact/hooks';
import { ApiError, errorMessage, type Api } from '../api.js';

export function LoginPage({ api, onLoggedIn }: { api: Api; onLoggedIn(): void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.login(password);
      onLoggedIn();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'UNAUTHORIZED') setError('Wrong password.');
      else if (err instanceof ApiError && err.code === 'TOO_MANY_ATTEMPTS') {
        setError(`Too many attempts. Try again in ${err.retryAfter ?? 60} seconds.`);
      } else setError(errorMessage(err));
      setPassword('');
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form class="card login-card" onSubmit={submit} data-testid="login-form">
        <h1>
          <svg class="logo" viewBox="0 0 24 24" aria-hidden="true">
            <path d="M4 5h16v4H4zM4 10.5h16v4H4zM4 16h16v4H4z" />
          </svg>
          Pullgate
        </h1>
        <p class="muted">Sign in to manage the registry mirror.</p>
        <div class="field">
          <label for="login-password">Admin password</label>
          <input
            ref={input}
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            autoFocus
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'login-error' : undefined}
          />
          {error ? (
            <p id="login-error" class="field-error" role="alert" data-testid="login-error">
              {error}
            </p>
          ) : null}
        </div>
        <button type="submit" class="button primary wide" disabled={busy || password === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
