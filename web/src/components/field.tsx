// A labelled form field with its hint and its error message right under it; the input points at both with
// aria-describedby, so a screen reader reads the error when the field gets focus.
import type { ComponentChildren } from 'preact';

export interface FieldProps {
  id: string;
  label: string;
  hint?: ComponentChildren;
  error?: string | undefined;
  children: ComponentChildren;
  /** Checkboxes put the label after the box. */
  inline?: boolean;
}

export const describedBy = (id: string, hint: boolean, error: string | undefined): string | undefined =>
  [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;

export function Field({ id, label, hint, error, children, inline }: FieldProps) {
  return (
    <div class={`field${inline ? ' inline' : ''}${error ? ' invalid' : ''}`}>
      {inline ? (
        <label for={id} class="check">
          {children}
          <span>{label}</span>
        </label>
      ) : (
        <>
          <label for={id}>{label}</label>
          {children}
        </>
      )}
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={`${id}-error`} data-testid={`error-${id}`}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
