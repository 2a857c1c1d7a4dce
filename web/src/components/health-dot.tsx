import type { UpstreamView } from '../types.js';
import { formatRelative } from '../format.js';

type Health = UpstreamView['health'];

function describe(health: Health, enabled: boolean): { state: string; text: string } {
  if (!enabled) return { state: 'off', text: 'disabled' };
  if (health.circuit === 'open') return { state: 'down', text: `circuit open${health.lastError ? `: ${health.lastError.message}` : ''}` };
  if (health.reachable === false) return { state: 'down', text: health.lastError ? `unreachable: ${health.lastError.message}` : 'unreachable' };
  if (health.reachable === true) {
    return { state: health.circuit === 'half-open' ? 'warn' : 'up', text: health.lastOkAt ? `reachable, last ok ${formatRelative(health.lastOkAt)}` : 'reachable' };
  }
  return { state: 'unknown', text: 'not contacted yet' };
}

/** A coloured dot plus the same fact in words, so colour is never the only signal. */
export function HealthDot({ health, enabled }: { health: Health; enabled: boolean }) {
  const { state, text } = describe(health, enabled);
  return (
    <span class={`health health-${state}`} title={text}>
      <span class="dot" aria-hidden="true" />
      <span class="health-text">{state === 'up' ? 'up' : state === 'down' ? 'down' : state === 'warn' ? 'recovering' : state === 'off' ? 'off' : 'unknown'}</span>
      <span class="visually-hidden">: {text}</span>
    </span>
  );
}
