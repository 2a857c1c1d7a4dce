// One status per upstream, in words, with its last error spelled out (not only in a tooltip): up, down (and why),
// recovering (a probe is under way after failures), disabled, or not contacted yet. A dot repeats it in colour.
import type { UpstreamView } from '../types.js';
import { formatRelative } from '../format.js';

type Health = UpstreamView['health'];

export interface Status {
  state: 'up' | 'down' | 'warn' | 'off' | 'unknown';
  word: string;
  /** The cause or the last success, in words; empty when the word says it all. */
  detail: string;
}

export function statusOf(health: Health, enabled: boolean): Status {
  if (!enabled) return { state: 'off', word: 'disabled', detail: '' };
  const error = health.lastError ? `${health.lastError.message} (${formatRelative(health.lastError.at)})` : '';
  if (health.circuit === 'open') return { state: 'down', word: 'down', detail: error ? `${error}; requests answered from the cache only` : 'requests answered from the cache only' };
  if (health.circuit === 'half-open') return { state: 'warn', word: 'recovering', detail: error ? `trying again after: ${error}` : 'trying again after failures' };
  if (health.reachable === false) return { state: 'down', word: 'down', detail: error || 'unreachable' };
  if (health.reachable === true) return { state: 'up', word: 'up', detail: health.lastOkAt ? `last answer ${formatRelative(health.lastOkAt)}` : '' };
  return { state: 'unknown', word: 'not contacted yet', detail: '' };
}

/** The status word with its dot, and the detail under it. */
export function HealthDot({ health, enabled, testid }: { health: Health; enabled: boolean; testid?: string }) {
  const { state, word, detail } = statusOf(health, enabled);
  return (
    <span class={`health health-${state}`} data-testid={testid} data-state={state}>
      <span class="health-line">
        <span class="dot" aria-hidden="true" />
        <span class="health-text">{word}</span>
      </span>
      {detail ? <span class="health-detail small">{detail}</span> : null}
    </span>
  );
}
