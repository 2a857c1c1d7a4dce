// Server field errors onto a form: the API's VALIDATION and CONFLICT answers name their fields with dotted paths
// (`username`, `tls.passthrough.3.sni`); each lands under its own field, the rest above the form, and the first
// field with an error takes the focus.
import { ApiError, errorMessage } from './api.js';

export type FormErrors<K extends string> = Partial<Record<K | 'form', string | undefined>>;

/**
 * The errors of `err` keyed by the form's fields: a path's last segment names the field when it is one of `keys`;
 * a refusal without fields (CONFLICT, READ_ONLY) goes to `fallback` when given, else above the form.
 */
export function formErrors<K extends string>(err: unknown, keys: readonly K[], fallback?: K): FormErrors<K> {
  const out: FormErrors<K> = {};
  if (err instanceof ApiError && err.fields.length) {
    for (const f of err.fields) {
      const last = f.path.split('.').pop() ?? '';
      const key: K | 'form' = (keys as readonly string[]).includes(last) ? (last as K) : (keys as readonly string[]).includes(f.path) ? (f.path as K) : 'form';
      out[key] = out[key] ? `${out[key]}; ${f.message}` : f.message;
    }
    return out;
  }
  if (fallback && err instanceof ApiError && (err.code === 'CONFLICT' || err.code === 'READ_ONLY')) return { [fallback]: err.message } as FormErrors<K>;
  return { form: errorMessage(err) } as FormErrors<K>;
}

/** Moves the focus to the first field (`${prefix}-${key}`) that has an error, after the render that shows it. */
export function focusFirstError<K extends string>(errors: FormErrors<K>, prefix: string): void {
  const first = Object.keys(errors).find((k) => k !== 'form' && errors[k as K]);
  if (first) setTimeout(() => document.getElementById(`${prefix}-${first}`)?.focus(), 0);
}
