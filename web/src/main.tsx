// The admin UI's entry: ask the server whether this browser has a session, then show the login page or the
// page named by the URL's hash.
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, errorMessage } from './api.js';
import { appContext, type AppContext, type NoticeKind } from './app-context.js';
import { useConfirmHost } from './components/confirm-dialog.js';
import { Layout, pages, type Notice, type PageId } from './components/layout.js';
import { AuditPage } from './pages/audit.js';
import { CachePage } from './pages/cache.js';
import { DashboardPage } from './pages/dashboard.js';
import { LoginPage } from './pages/login.js';
import { PassthroughPage } from './pages/passthrough.js';
import { PrefetchPage } from './pages/prefetch.js';
import { SetupPage } from './pages/setup.js';
import { UpstreamsPage } from './pages/upstreams.js';
import { UsersPage } from './pages/users.js';
import { WatchPage } from './pages/watch.js';
import { href, useRoute } from './router.js';
import { revealRow } from './reveal.js';

type SessionState = 'checking' | 'out' | 'in' | 'unreachable';

function Page({ route }: { route: string[] }) {
  const [first, ...rest] = route;
  switch (first) {
    case 'upstreams':
      return <UpstreamsPage route={rest} />;
    case 'cache':
      return <CachePage route={rest} />;
    case 'prefetch':
      return <PrefetchPage />;
    case 'watch':
      return <WatchPage />;
    case 'users':
      return <UsersPage />;
    case 'passthrough':
      return <PassthroughPage />;
    case 'setup':
      return <SetupPage />;
    case 'audit':
      return <AuditPage />;
    case undefined:
      return <DashboardPage />;
    default:
      return <NotFound route={route} />;
  }
}

/** An address that names no page says so (a mistyped bookmark must not pass for the dashboard). */
function NotFound({ route }: { route: string[] }) {
  return (
    <div class="page" data-testid="page-not-found">
      <h1>No such page</h1>
      <p class="empty card">
        Nothing here at <code>#/{route.join('/')}</code>. <a href={href()}>Go to the dashboard</a>.
      </p>
    </div>
  );
}

const pageIds: readonly PageId[] = pages.map((p) => p.id);
const pageOf = (route: string[]): PageId | undefined =>
  route[0] === undefined ? 'dashboard' : pageIds.find((id) => id !== 'dashboard' && id === route[0]);

const titles: Record<PageId, string> = {
  dashboard: 'Dashboard',
  upstreams: 'Upstreams',
  cache: 'Cache',
  prefetch: 'Prefetch',
  watch: 'Watch lists',
  users: 'Registry users',
  passthrough: 'TLS passthrough',
  setup: 'Setup',
  audit: 'Audit log',
};

function App() {
  const [session, setSession] = useState<SessionState>('checking');
  const [startError, setStartError] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<Notice | undefined>(undefined);
  const noticeTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const route = useRoute();
  const api = useMemo(() => new Api(() => setSession('out')), []);

  const notify = useCallback((message: string, kind: NoticeKind = 'ok') => {
    clearTimeout(noticeTimer.current);
    setNotice({ id: Date.now(), message, kind });
    // Errors stay until dismissed or replaced; confirmations fade on their own.
    if (kind === 'ok') noticeTimer.current = setTimeout(() => setNotice(undefined), 5000);
  }, []);
  const [confirmDialog, confirm] = useConfirmHost();
  const ctx = useMemo<AppContext>(() => ({ api, notify, confirm, reveal: revealRow }), [api, notify, confirm]);

  useEffect(() => {
    api.session().then(
      (view) => setSession(view.authenticated ? 'in' : 'out'),
      (err: unknown) => {
        setStartError(errorMessage(err));
        setSession('unreachable');
      },
    );
  }, [api]);

  useEffect(() => {
    const page = pageOf(route);
    document.title = session === 'in' ? `${page ? titles[page] : 'No such page'} · Pullgate` : 'Pullgate';
  }, [session, route]);

  const logout = async (): Promise<void> => {
    try {
      await api.logout();
    } catch (err) {
      notify(errorMessage(err), 'error');
      return;
    }
    setNotice(undefined);
    setSession('out');
  };

  if (session === 'checking') return <p class="loading-screen">Loading…</p>;
  if (session === 'unreachable') {
    return (
      <main id="main" class="login">
        <div class="card login-card">
          <h1>Pullgate</h1>
          <p class="field-error">{startError}</p>
        </div>
      </main>
    );
  }
  if (session === 'out') return <LoginPage api={api} onLoggedIn={() => setSession('in')} />;
  return (
    <appContext.Provider value={ctx}>
      <Layout current={pageOf(route)} onLogout={() => void logout()} notice={notice} onDismiss={() => setNotice(undefined)}>
        <Page route={route} />
      </Layout>
      {confirmDialog}
    </appContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
