// Who may pull from an upstream and what, in a few words: only what the upstream sets itself; the rest follows the
// mirror-wide settings. The full lists are in the tooltip and in the edit form.
import type { UpstreamView } from '../types.js';

/** The first entries, each kept on one line, and how many more: `10.0.0.0/8 192.168.0.0/16 +2`. */
function Short({ list, shown = 2 }: { list: readonly string[]; shown?: number }) {
  return (
    <>
      {list.slice(0, shown).map((entry) => (
        <span key={entry} class="mono entry">
          {entry}
        </span>
      ))}
      {list.length > shown ? <span class="muted">+{list.length - shown}</span> : null}
    </>
  );
}

export function AccessSummary({ upstream }: { upstream: UpstreamView }) {
  const { access, policy } = upstream;
  const lines: { label: string; list: readonly string[] }[] = [
    // Client addresses allowed and refused, then repositories allowed and refused.
    { label: 'allow', list: access?.allow ?? [] },
    { label: 'deny', list: access?.deny ?? [] },
    { label: 'pull', list: policy?.allow ?? [] },
    { label: 'block', list: policy?.deny ?? [] },
  ].filter((l) => l.list.length > 0);
  const login = access?.login;
  if (!login && lines.length === 0) return <span class="muted small nowrap">global settings</span>;
  return (
    <span class="access-summary" data-testid={`upstream-access-${upstream.name}`}>
      {login === 'required' ? <span class="badge warn">login required</span> : login === 'off' ? <span class="badge">no login</span> : null}
      {lines.map((l) => (
        <span key={l.label} class="small access-line" title={`${l.label}: ${l.list.join(', ')}`}>
          <span class="muted">{l.label}</span> <Short list={l.list} />
        </span>
      ))}
    </span>
  );
}
