// Search and sort for a list: a search box that narrows the rows by their name, and column headers that sort by
// their value (press again to reverse). The sorted column says so to a screen reader (aria-sort).
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

export interface Column<T> {
  key: string;
  label: string;
  value: (row: T) => string | number;
  num?: boolean;
}

export interface ListControls<T> {
  sortKey: string;
  descending: boolean;
  sortBy(key: string): void;
  /** The rows matching the search, in the chosen order. */
  apply(rows: readonly T[]): T[];
  search(label: string, testid: string): ComponentChildren;
}

export function useListControls<T>(columns: readonly Column<T>[], initial: string, name: (row: T) => string): ListControls<T> {
  const [sortKey, setSortKey] = useState(initial);
  // Numbers and times start with the largest; names start at A.
  const [descending, setDescending] = useState(() => columns.find((c) => c.key === initial)?.value !== undefined && initial !== columns[0]?.key);
  const [query, setQuery] = useState('');

  const sortBy = (key: string): void => {
    if (key === sortKey) setDescending((d) => !d);
    else {
      setSortKey(key);
      setDescending(key !== columns[0]?.key);
    }
  };

  const apply = (rows: readonly T[]): T[] => {
    const column = columns.find((c) => c.key === sortKey) ?? columns[0];
    const q = query.trim().toLowerCase();
    const found = q ? rows.filter((r) => name(r).toLowerCase().includes(q)) : [...rows];
    if (!column) return found;
    const sign = descending ? -1 : 1;
    return found.sort((a, b) => {
      const x = column.value(a);
      const y = column.value(b);
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sign * order || name(a).localeCompare(name(b));
    });
  };

  const search = (label: string, testid: string): ComponentChildren => (
    <div class="list-search">
      <label class="visually-hidden" for={testid}>
        {label}
      </label>
      <input id={testid} type="search" placeholder={`${label}…`} value={query} onInput={(e) => setQuery(e.currentTarget.value)} data-testid={testid} autoComplete="off" spellcheck={false} />
    </div>
  );

  return { sortKey, descending, sortBy, apply, search };
}

/** A column header that sorts the list by its column. */
export function SortHeader<T>({ column, controls }: { column: Column<T>; controls: ListControls<T> }) {
  const active = controls.sortKey === column.key;
  return (
    <th scope="col" class={column.num ? 'num' : undefined} aria-sort={active ? (controls.descending ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="sort-button" onClick={() => controls.sortBy(column.key)} data-testid={`sort-${column.key}`}>
        {column.label}
        <span aria-hidden="true" class="sort-mark">
          {active ? (controls.descending ? '▼' : '▲') : ''}
        </span>
      </button>
    </th>
  );
}
