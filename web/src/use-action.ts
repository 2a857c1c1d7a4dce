// Confirm, then act, then notify, then show the new state: the one way every page changes something. The page's
// data is reloaded before the success message, so what the message says is already on screen, and the changed row
// (by its `data-row-key`) is brought into view.
import type { ComponentChildren } from 'preact';
import { useCallback } from 'preact/hooks';
import { errorMessage } from './api.js';
import { useApp } from './app-context.js';

export interface Action<T> {
  /** Asked first; the action runs only when the user confirms. */
  confirm?: { title: string; body: ComponentChildren; confirmLabel: string; danger?: boolean };
  act(): Promise<T>;
  /** The message once it worked, from the answer. */
  done: string | ((result: T) => string);
  /** Reloads what the page shows; awaited before the message. */
  reload?: () => Promise<unknown> | unknown;
  /** The `data-row-key` of the row to bring into view afterwards. */
  reveal?: string;
}

/** Runs an action; resolves to its answer, or undefined when cancelled or failed (the failure is notified). */
export function useAction(): <T>(action: Action<T>) => Promise<T | undefined> {
  const { notify, confirm, reveal } = useApp();
  return useCallback(
    async <T,>(a: Action<T>): Promise<T | undefined> => {
      if (a.confirm && !(await confirm(a.confirm))) return undefined;
      let result: T;
      try {
        result = await a.act();
      } catch (err) {
        notify(errorMessage(err), 'error');
        await a.reload?.();
        return undefined;
      }
      await a.reload?.();
      notify(typeof a.done === 'string' ? a.done : a.done(result));
      if (a.reveal !== undefined) reveal(a.reveal);
      return result;
    },
    [notify, confirm, reveal],
  );
}
