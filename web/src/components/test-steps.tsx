// The result of an upstream test, one line per step (resolve, connect, token, manifest) with what happened.
import { formatDuration } from '../format.js';
import type { TestResult } from '../types.js';

const stepNames: Record<string, string> = {
  resolve: 'Resolve host',
  connect: 'Connect (TCP + TLS)',
  token: 'Authenticate',
  manifest: 'Fetch manifest',
};

export function TestSteps({ result, title }: { result: TestResult; title: string }) {
  return (
    <section class={`test-result ${result.ok ? 'ok' : 'failed'}`} aria-label={title} data-testid="test-result" data-ok={String(result.ok)}>
      <h3>
        {title}: {result.ok ? 'passed' : 'failed'}
      </h3>
      <ol class="steps">
        {result.steps.map((s) => (
          <li key={s.step} class={s.ok ? 'ok' : 'failed'} data-testid={`test-step-${s.step}`} data-ok={String(s.ok)}>
            <span class="step-mark" aria-hidden="true">
              {s.ok ? '✓' : '✗'}
            </span>
            <span class="step-name">
              {stepNames[s.step] ?? s.step}
              <span class="visually-hidden">{s.ok ? ' passed' : ' failed'}</span>
            </span>
            <span class="step-detail">{s.detail}</span>
            <span class="step-ms muted">{formatDuration(s.ms)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
