import { formatDateTime, formatRelative } from '../format.js';

/** A relative time ("5 min ago") with the exact local time on hover and in the datetime attribute. */
export function TimeAgo({ at, never = 'never' }: { at: number | null | undefined; never?: string }) {
  if (at === null || at === undefined) return <span class="muted">{never}</span>;
  return (
    <time dateTime={new Date(at).toISOString()} title={formatDateTime(at)}>
      {formatRelative(at)}
    </time>
  );
}
