// What every page needs: the API client, a way to tell the user what just happened, one confirmation dialog for
// the whole app (rendered at the top of the page, never inside a table), and a way to bring a changed row into view.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { ConfirmOptions } from './components/confirm-dialog.js';

export type NoticeKind = 'ok' | 'error';

export interface AppContext {
  api: Api;
  notify(message: string, kind?: NoticeKind): void;
  /** Asks in a modal dialog; true only when the user pressed the confirm button. */
  confirm(options: ConfirmOptions): Promise<boolean>;
  /** Scrolls the element with `data-row-key` = key into view once it is rendered, and marks it as just changed. */
  reveal(key: string): void;
}

export const appContext = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const ctx = useContext(appContext);
  if (!ctx) throw new Error('useApp outside the app');
  return ctx;
}
