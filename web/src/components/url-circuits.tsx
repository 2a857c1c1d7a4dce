// Each URL of an upstream in the order requests try them (regional mirrors, then the origin), with its circuit:
// closed (in use), open (skipped after failures in a row, until it is probed again) or half-open (being probed).
import type { CircuitState, UpstreamUrlHealth, UpstreamView } from '../types.js';
import { count } from '../format.js';

const circuitWords: Record<CircuitState, string> = { closed: 'in use', open: 'skipped', 'half-open': 'probing' };
// A URL in use is neutral: whether the upstream is up is said once, by its status (health-dot.tsx).
const circuitClass: Record<CircuitState, string> = { closed: 'idle', open: 'down', 'half-open': 'warn' };

function describe(u: UpstreamUrlHealth): string {
  const failures = u.failures ? `, ${count(u.failures, 'failure')} in a row` : '';
  return `circuit ${u.circuit}${failures}${u.lastFailure ? `; last failure: ${u.lastFailure}` : ''}`;
}

/** The URLs with their circuits when the upstream is live; its configured URLs otherwise (disabled: no circuits). */
export function UrlCircuits({ upstream }: { upstream: UpstreamView }) {
  const live = upstream.health.urls;
  const rows: { url: string; role: 'mirror' | 'origin'; health?: UpstreamUrlHealth }[] = live
    ? live.map((h) => ({ url: h.url, role: h.role, health: h }))
    : [...upstream.mirrors.map((url) => ({ url, role: 'mirror' as const })), { url: upstream.url, role: 'origin' as const }];
  const showRole = rows.length > 1;
  return (
    <ul class="url-list" data-testid={`upstream-urls-${upstream.name}`}>
      {rows.map((r) => (
        <li key={r.url} data-circuit={r.health?.circuit} title={r.health ? `${r.url}: ${describe(r.health)}` : r.url}>
          {/* A URL in use with no failure is the normal case: the dot says it; anything else is said in words. */}
          <span class="url-line">
            {r.health ? <span class={`dot health-${circuitClass[r.health.circuit]}`} aria-hidden="true" /> : null}
            {showRole ? <span class="badge role">{r.role}</span> : null}
            <span class="mono small ellipsis">{r.url}</span>
          </span>
          {r.health ? (
            r.health.circuit === 'closed' && !r.health.failures ? (
              <span class="visually-hidden">: {describe(r.health)}</span>
            ) : (
              <span class={`circuit-note small circuit-${r.health.circuit}`}>
                {circuitWords[r.health.circuit]}
                {r.health.failures ? ` · ${count(r.health.failures, 'failure')}` : ''}
                <span class="visually-hidden">: {describe(r.health)}</span>
              </span>
            )
          ) : null}
        </li>
      ))}
    </ul>
  );
}
