// The frame of every signed-in page: a header with the navigation and the logout button, the page, and a live
// region that announces what the last action did.
import type { ComponentChildren } from 'preact';
import { href } from '../router.js';
import type { NoticeKind } from '../app-context.js';

export const pages = [
  { id: 'dashboard', path: '', label: 'Dashboard' },
  { id: 'upstreams', path: 'upstreams', label: 'Upstreams' },
  { id: 'cache', path: 'cache', label: 'Cache' },
  { id: 'prefetch', path: 'prefetch', label: 'Prefetch' },
  { id: 'watch', path: 'watch', label: 'Watch' },
  { id: 'users', path: 'users', label: 'Users' },
  { id: 'passthrough', path: 'passthrough', label: 'Passthrough' },
  { id: 'setup', path: 'setup', label: 'Setup' },
  { id: 'audit', path: 'audit', label: 'Audit' },
] as const;

export type PageId = (typeof pages)[number]['id'];

export interface Notice {
  id: number;
  message: string;
  kind: NoticeKind;
}

interface LayoutProps {
  current: PageId | undefined;
  onLogout(): void;
  notice: Notice | undefined;
  onDismiss(): void;
  children: ComponentChildren;
}

export function Layout({ current, onLogout, notice, onDismiss, children }: LayoutProps) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="top-inner">
          <a class="brand" href={href()}>
            <svg class="logo" viewBox="0 0 24 24" aria-hidden="true">
              <path d="M4 5h16v4H4zM4 10.5h16v4H4zM4 16h16v4H4z" />
            </svg>
            Pullgate
          </a>
          <nav aria-label="Main">
            <ul>
              {pages.map((p) => (
                <li key={p.id}>
                  <a href={p.path ? href(p.path) : href()} aria-current={p.id === current ? 'page' : undefined} data-testid={`nav-${p.id}`}>
                    {p.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <button type="button" class="button ghost logout" onClick={onLogout} data-testid="logout">
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
      <div class="notice-area" role="status" aria-live="polite">
        {notice ? (
          <div class={`notice notice-${notice.kind}`} key={notice.id} data-testid="notice">
            <span>{notice.message}</span>
            <button type="button" class="icon-button" onClick={onDismiss} aria-label="Dismiss">
              ×
            </button>
          </div>
        ) : null}
      </div>
    </>
  );
}
