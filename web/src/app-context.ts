// What every page needs: the API client and a way to tell the user what just happened.
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';

export type NoticeKind = 'ok' | 'error';

export interface AppContext {
  api: Api;
  notify(message: string, kind?: NoticeKind): void;
}

export const appContext = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const ctx = useContext(appContext);
  if (!ctx) throw new Error('useApp outside the app');
  return ctx;
}
