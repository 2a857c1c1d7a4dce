// The error / loading / empty / content block every list repeats: an error in words (kept above the last good
// data), "Loading…" only before the first answer, the empty text when there is nothing, else the content.
import type { ComponentChildren } from 'preact';
import type { Resource } from '../use-resource.js';

export interface ResourceViewProps<T> {
  resource: Resource<T>;
  /** Whether the answer holds nothing to list. */
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  /** Wraps the loading and empty texts (a card, or nothing inside one). */
  boxed?: boolean;
  testid?: string;
  children: (data: T) => ComponentChildren;
}

export function ResourceView<T>({ resource, isEmpty, empty, boxed = true, testid, children }: ResourceViewProps<T>) {
  const cls = boxed ? 'empty card' : 'empty';
  const { data, error } = resource;
  return (
    <>
      {error ? (
        <p class="form-error" role="alert" data-testid={testid ? `${testid}-error` : 'resource-error'}>
          {error}
        </p>
      ) : null}
      {data === undefined ? (
        error ? null : <p class={cls}>Loading…</p>
      ) : isEmpty?.(data) ? (
        <p class={cls} data-testid={testid ? `${testid}-empty` : undefined}>
          {empty}
        </p>
      ) : (
        children(data)
      )}
    </>
  );
}
