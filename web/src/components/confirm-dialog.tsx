// The app's one confirmation dialog, built on <dialog> and rendered at the top of the page (never inside a table
// cell, whose alignment and white-space it would inherit): the browser centres it, traps focus, Escape cancels, and
// focus returns to the button that opened it. `ask()` resolves true only when the user presses the confirm button.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface ConfirmOptions {
  title: string;
  body: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
}

export function useConfirmHost(): [ComponentChildren, (options: ConfirmOptions) => Promise<boolean>] {
  const [options, setOptions] = useState<ConfirmOptions | undefined>(undefined);
  const resolver = useRef<((ok: boolean) => void) | undefined>(undefined);
  const dialog = useRef<HTMLDialogElement>(null);

  const ask = useCallback((next: ConfirmOptions) => {
    resolver.current?.(false);
    setOptions(next);
    return new Promise<boolean>((resolve) => {
      resolver.current = resolve;
    });
  }, []);

  useEffect(() => {
    if (options && dialog.current && !dialog.current.open) dialog.current.showModal();
  }, [options]);

  const finish = (ok: boolean): void => {
    resolver.current?.(ok);
    resolver.current = undefined;
    dialog.current?.close();
    setOptions(undefined);
  };

  const element = options ? (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onCancel={() => finish(false)} data-testid="confirm-dialog">
      <h2 id="confirm-title">{options.title}</h2>
      <div class="confirm-body">{options.body}</div>
      <div class="actions">
        <button type="button" class="button" onClick={() => finish(false)}>
          Cancel
        </button>
        <button
          type="button"
          class={options.danger ? 'button danger' : 'button primary'}
          onClick={() => finish(true)}
          data-testid="confirm-ok"
        >
          {options.confirmLabel}
        </button>
      </div>
    </dialog>
  ) : null;
  return [element, ask];
}
