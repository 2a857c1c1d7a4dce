// A Copy button for a piece of text: the clipboard where the browser allows it (a secure context: https or
// localhost), else the text is selected for Ctrl+C. Says what happened, to the eye and to a screen reader.
import { useState } from 'preact/hooks';

/** navigator.clipboard needs a secure context (https or localhost); elsewhere, select the text for Ctrl+C. */
export async function copyText(text: string, select: HTMLElement | null): Promise<'copied' | 'selected'> {
  try {
    await navigator.clipboard.writeText(text);
    return 'copied';
  } catch {
    if (select) {
      const range = document.createRange();
      range.selectNodeContents(select);
      const selection = getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
      select.focus();
    }
    return 'selected';
  }
}

export function CopyButton({ text, target, label = 'Copy', testid }: { text: string; target?: () => HTMLElement | null; label?: string; testid?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'selected'>('idle');
  const onCopy = async (): Promise<void> => {
    setState(await copyText(text, target?.() ?? null));
    setTimeout(() => setState('idle'), 2500);
  };
  return (
    <>
      <button type="button" class="button small" onClick={() => void onCopy()} data-testid={testid}>
        {state === 'copied' ? 'Copied' : state === 'selected' ? 'Press Ctrl+C' : label}
      </button>
      <span class="visually-hidden" role="status">
        {state === 'copied' ? 'Copied to the clipboard.' : state === 'selected' ? 'Text selected; press Ctrl+C to copy.' : ''}
      </span>
    </>
  );
}
