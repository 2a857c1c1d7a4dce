// The upstream form's state (upstream-form.tsx): the fields with their errors, checked as the user leaves each one,
// and the two actions, Test and Save, whose server errors land under their fields (upstream-form-model.ts maps them).
import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api.js';
import { useApp } from '../app-context.js';
import { describedBy } from '../components/field.js';
import type { TestResult, UpstreamInput, UpstreamView } from '../types.js';
import { advancedKeys, checks, clientErrors, initialState, serverErrors, toInput, type Errors, type FieldKey, type FormState } from './upstream-form-model.js';

/** What each section of the form needs: the values, their errors, a setter and the attributes of an input. */
export interface UpstreamFields {
  state: FormState;
  errors: Errors;
  existing: UpstreamView | undefined;
  editing: boolean;
  set<K extends keyof FormState>(key: K, value: FormState[K]): void;
  aria(key: FieldKey, hint?: boolean): { id: string; 'aria-invalid': true | undefined; 'aria-describedby': string | undefined; onBlur(): void };
}

/** The fields, their errors and the retries-and-circuit disclosure (opened when an error sits inside it). */
export function useUpstreamFields(existing: UpstreamView | undefined) {
  const [state, setState] = useState(() => initialState(existing));
  const [errors, setErrors] = useState<Errors>({});
  const [advancedOpen, setAdvancedOpen] = useState(false);

  /** Shows the errors and moves the focus to the first field that has one (opening the disclosure it sits in). */
  const showErrors = (found: Errors): void => {
    setErrors(found);
    const first = (Object.keys(found) as (FieldKey | 'form')[]).find((k): k is FieldKey => k !== 'form' && found[k] !== undefined);
    if (!first) return;
    if (advancedKeys.includes(first)) setAdvancedOpen(true);
    // After the render that opened the disclosure: a closed <details> cannot take the focus.
    setTimeout(() => document.getElementById(`upstream-${first}`)?.focus(), 0);
  };

  const set = <K extends keyof FormState>(key: K, value: FormState[K]): void => {
    setState((s) => ({ ...s, [key]: value }));
    // An edited field loses its old error; it is checked again when the user leaves it.
    if (key in errors) setErrors((e) => ({ ...e, [key]: undefined }));
  };
  const blur = (key: FieldKey) => (): void => {
    const message = checks[key]?.(state);
    setErrors((e) => ({ ...e, [key]: message }));
  };
  const aria = (key: FieldKey, hint = false) => ({
    id: `upstream-${key}`,
    'aria-invalid': errors[key] ? (true as const) : undefined,
    'aria-describedby': describedBy(`upstream-${key}`, hint, errors[key]),
    onBlur: blur(key),
  });

  /** Client checks first; returns the input to send, or undefined after showing the errors. */
  const validated = (): UpstreamInput | undefined => {
    const found = clientErrors(state);
    if (Object.keys(found).length > 0) {
      showErrors(found);
      return undefined;
    }
    setErrors({});
    return toInput(state, existing);
  };

  const fields: UpstreamFields = { state, errors, existing, editing: existing !== undefined, set, aria };
  return { fields, setErrors, showErrors, validated, advancedOpen, setAdvancedOpen };
}

/** Test tries the unsaved settings against the real upstream; Save stores them. */
export function useUpstreamActions(form: ReturnType<typeof useUpstreamFields>, onSaved: (name: string) => Promise<void>) {
  const { api, notify } = useApp();
  const [busy, setBusy] = useState<'save' | 'test' | undefined>(undefined);
  const [test, setTest] = useState<TestResult | undefined>(undefined);
  const { fields, validated, showErrors, setErrors } = form;
  const { state, existing, editing } = fields;

  const handleError = (err: unknown): void => {
    // CONFLICT (a name or hostname taken) names its field too.
    if (err instanceof ApiError && (err.code === 'VALIDATION' || err.fields.length > 0)) showErrors(serverErrors(err.fields, err.message, state));
    else setErrors({ form: errorMessage(err) });
  };

  const runTest = async (): Promise<void> => {
    const input = validated();
    if (!input) return;
    setBusy('test');
    setTest(undefined);
    try {
      const image = state.testImage.trim();
      setTest(await api.send<TestResult>('POST', '/api/upstreams/test', { upstream: input, ...(image ? { image } : {}) }));
    } catch (err) {
      handleError(err);
    } finally {
      setBusy(undefined);
    }
  };

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    const input = validated();
    if (!input) return;
    setBusy('save');
    try {
      if (existing) await api.send('PUT', `/api/upstreams/${encodeURIComponent(existing.name)}`, input);
      else await api.send('POST', '/api/upstreams', input);
      await onSaved(input.name);
      notify(`Upstream ${input.name} ${editing ? 'updated' : 'added'}.`);
    } catch (err) {
      handleError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return { busy, test, runTest, save };
}
