// A labelled progress bar; an unknown total shows an indeterminate bar instead of a made-up percentage.
export function ProgressBar({ done, total, label, state }: { done: number; total: number | null; label: string; state?: 'failed' | 'done' }) {
  const known = total !== null && total > 0;
  const percent = known ? Math.min(100, (done / total) * 100) : state === 'done' ? 100 : 0;
  // Only something still running can be indeterminate; a failure before any size was known shows an empty bar.
  const indeterminate = !known && state === undefined;
  return (
    <div
      class={`progress${indeterminate ? ' indeterminate' : ''}${state ? ` ${state}` : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      {...(indeterminate ? {} : { 'aria-valuenow': Math.round(percent) })}
    >
      <div class="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}
