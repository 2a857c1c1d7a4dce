// The sections of the upstream form (upstream-form.tsx), one fieldset each; the state they edit is
// use-upstream-form.ts's.
import { Field } from '../components/field.js';
import { TestSteps } from '../components/test-steps.js';
import { SignaturePolicyEditor } from '../components/signature-policy-editor.js';
import { href } from '../router.js';
import type { TestResult } from '../types.js';
import type { FormState } from './upstream-form-model.js';
import type { UpstreamFields } from './use-upstream-form.js';

/** Name, registry, URLs, mirror hostnames and the switches (default, enabled, offline). */
export function RegistrySection({ fields }: { fields: UpstreamFields }) {
  const { state, errors, editing, set, aria } = fields;
  return (
    <fieldset>
      <legend>Registry</legend>
      <div class="grid">
        <Field id="upstream-name" label="Name" hint="Short identifier used in logs, pins and the cache explorer." error={errors.name}>
          <input {...aria('name', true)} value={state.name} readOnly={editing} required autoComplete="off" onInput={(e) => set('name', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-registry" label="Registry name" hint="As clients name it: docker.io, ghcr.io, registry.corp:5000." error={errors.registry}>
          <input {...aria('registry', true)} value={state.registry} required autoComplete="off" spellcheck={false} onInput={(e) => set('registry', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-url" label="URL" hint="Where Pullgate connects, e.g. https://registry-1.docker.io." error={errors.url}>
          <input {...aria('url', true)} type="url" value={state.url} required autoComplete="off" spellcheck={false} onInput={(e) => set('url', e.currentTarget.value)} />
        </Field>
        <Field
          id="upstream-mirrors"
          label="Regional mirrors"
          hint="Other URLs serving the same content, one per line, tried in order before the URL above."
          error={errors.mirrors}
        >
          <textarea {...aria('mirrors', true)} rows={2} value={state.mirrors} spellcheck={false} placeholder="https://" onInput={(e) => set('mirrors', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-hosts" label="Mirror hostnames" hint="Hostnames of this mirror routed to this upstream, one per line." error={errors.hosts}>
          <textarea {...aria('hosts', true)} rows={2} value={state.hosts} spellcheck={false} onInput={(e) => set('hosts', e.currentTarget.value)} />
        </Field>
      </div>
      <div class="checks">
        <Field id="upstream-default" label="Default upstream (served at the mirror root)" inline>
          <input id="upstream-default" type="checkbox" checked={state.isDefault} onChange={(e) => set('isDefault', e.currentTarget.checked)} />
        </Field>
        <Field id="upstream-enabled" label="Enabled" inline>
          <input id="upstream-enabled" type="checkbox" checked={state.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} />
        </Field>
        <Field id="upstream-offline" label="Offline (serve only what is cached)" inline>
          <input id="upstream-offline" type="checkbox" checked={state.offline} onChange={(e) => set('offline', e.currentTarget.checked)} />
        </Field>
      </div>
    </fieldset>
  );
}

/** Mirror or passthrough, and the credentials Pullgate pulls with (write-only). */
export function CredentialsSection({ fields }: { fields: UpstreamFields }) {
  const { state, errors, existing, set, aria } = fields;
  return (
    <fieldset>
      <legend>Credentials</legend>
      <div class="grid">
        <Field id="upstream-mode" label="Mode" hint={state.mode === 'mirror' ? 'Pullgate holds the credentials and pulls for every client.' : 'Each client authenticates with its own credentials.'} error={errors.mode}>
          <select {...aria('mode', true)} value={state.mode} onChange={(e) => set('mode', e.currentTarget.value as FormState['mode'])}>
            <option value="mirror">mirror</option>
            <option value="passthrough">passthrough</option>
          </select>
        </Field>
        {state.mode === 'mirror' ? (
          <>
            <Field id="upstream-username" label="Username" hint="Empty for anonymous pulls." error={errors.username}>
              <input {...aria('username', true)} value={state.username} autoComplete="off" onInput={(e) => set('username', e.currentTarget.value)} />
            </Field>
            <Field
              id="upstream-password"
              label="Password or token"
              hint={existing?.auth.hasPassword ? 'A password is stored; leave empty to keep it.' : 'Stored on the server, never shown again.'}
              error={errors.password}
            >
              <input {...aria('password', true)} type="password" value={state.password} autoComplete="new-password" onInput={(e) => set('password', e.currentTarget.value)} />
            </Field>
          </>
        ) : null}
      </div>
      {state.mode === 'mirror' && existing?.auth.hasPassword ? (
        <Field id="upstream-remove-password" label="Remove the stored password" inline>
          <input id="upstream-remove-password" type="checkbox" checked={state.removePassword} onChange={(e) => set('removePassword', e.currentTarget.checked)} />
        </Field>
      ) : null}
    </fieldset>
  );
}

/** Client addresses allowed and refused, and whether clients log in. */
export function WhoMayPullSection({ fields }: { fields: UpstreamFields }) {
  const { state, errors, set, aria } = fields;
  return (
    <fieldset>
      <legend>Who may pull</legend>
      <p class="hint fieldset-hint">Empty lists and “global setting” follow the mirror-wide access settings of the config file.</p>
      <div class="grid">
        <Field
          id="upstream-accessAllow"
          label="Allowed client addresses"
          hint="Addresses or CIDR blocks, one per line, e.g. 10.0.0.0/8. Empty: every client not refused."
          error={errors.accessAllow}
        >
          <textarea {...aria('accessAllow', true)} class="mono" rows={3} value={state.accessAllow} spellcheck={false} onInput={(e) => set('accessAllow', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-accessDeny" label="Refused client addresses" hint="Checked before the allowed ones, e.g. 10.9.0.0/16 or 2001:db8::/32." error={errors.accessDeny}>
          <textarea {...aria('accessDeny', true)} class="mono" rows={3} value={state.accessDeny} spellcheck={false} onInput={(e) => set('accessDeny', e.currentTarget.value)} />
        </Field>
        <Field
          id="upstream-accessLogin"
          label="Login"
          hint={
            <>
              “Required”: clients <code>docker login</code> to the mirror with a user from the <a href={href('users')}>Users</a> page.
            </>
          }
          error={errors.accessLogin}
        >
          <select {...aria('accessLogin', true)} value={state.accessLogin} onChange={(e) => set('accessLogin', e.currentTarget.value as FormState['accessLogin'])}>
            <option value="">Global setting</option>
            <option value="off">Not required</option>
            <option value="required">Required</option>
          </select>
        </Field>
      </div>
    </fieldset>
  );
}

/** Repositories allowed and refused. */
export function WhatMayBePulledSection({ fields }: { fields: UpstreamFields }) {
  const { state, errors, set, aria } = fields;
  return (
    <fieldset>
      <legend>What may be pulled</legend>
      <p class="hint fieldset-hint">
        Repositories as named on the upstream, one per line; <code>*</code> matches any characters: <code>library/*</code>, <code>team/app:v*</code>.
        Refused rules win; with allowed rules, only those repositories.
      </p>
      <div class="grid">
        <Field id="upstream-policyAllow" label="Allowed repositories" hint="Empty: every repository not refused." error={errors.policyAllow}>
          <textarea {...aria('policyAllow', true)} class="mono" rows={3} value={state.policyAllow} spellcheck={false} onInput={(e) => set('policyAllow', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-policyDeny" label="Refused repositories" hint="By repository, or by tag with repository:tag." error={errors.policyDeny}>
          <textarea {...aria('policyDeny', true)} class="mono" rows={3} value={state.policyDeny} spellcheck={false} onInput={(e) => set('policyDeny', e.currentTarget.value)} />
        </Field>
      </div>
    </fieldset>
  );
}

/** Keys or identities the images must be signed by (docs/signatures.md). */
export function SignatureSection({ fields }: { fields: UpstreamFields }) {
  const { state, errors, set } = fields;
  return (
    <fieldset data-testid="upstream-signatures">
      <legend>Signature policy</legend>
      <p class="hint fieldset-hint">
        Images of these repositories are served only with valid signatures by these keys or identities (cosign). A change applies from the next pull.
      </p>
      <SignaturePolicyEditor value={state.signatures} onChange={(next) => set('signatures', next)} error={errors.signatures} />
    </fieldset>
  );
}

/** CA, proxy, tag freshness, TLS and redirect switches, and the retries-and-circuit disclosure. */
export function ConnectionSection({ fields, advancedOpen, onToggle }: { fields: UpstreamFields; advancedOpen: boolean; onToggle(open: boolean): void }) {
  const { state, errors, existing, set, aria } = fields;
  return (
    <fieldset>
      <legend>Connection</legend>
      <Field
        id="upstream-caPem"
        label="Extra CA certificates (PEM)"
        hint={existing?.hasCa ? 'A CA bundle is stored; leave empty to keep it.' : 'Trusted for this upstream on top of the system CAs.'}
        error={errors.caPem}
      >
        <textarea
          {...aria('caPem', true)}
          class="mono"
          rows={4}
          value={state.caPem}
          spellcheck={false}
          placeholder="-----BEGIN CERTIFICATE-----"
          onInput={(e) => set('caPem', e.currentTarget.value)}
        />
      </Field>
      {existing?.hasCa ? (
        <Field id="upstream-remove-ca" label="Remove the stored CA bundle" inline>
          <input id="upstream-remove-ca" type="checkbox" checked={state.removeCa} onChange={(e) => set('removeCa', e.currentTarget.checked)} />
        </Field>
      ) : null}
      <div class="grid">
        <Field id="upstream-proxy" label="Proxy" hint="http:// or https:// proxy; empty uses the global setting." error={errors.proxy}>
          <input {...aria('proxy', true)} value={state.proxy} autoComplete="off" spellcheck={false} onInput={(e) => set('proxy', e.currentTarget.value)} />
        </Field>
        <Field id="upstream-tagTtl" label="Tag freshness" hint="How long a cached tag is trusted: 30s, 5m, 1h." error={errors.tagTtl}>
          <input {...aria('tagTtl', true)} value={state.tagTtl} autoComplete="off" onInput={(e) => set('tagTtl', e.currentTarget.value)} />
        </Field>
      </div>
      <Field id="upstream-insecure" label="Skip TLS verification (insecure)" inline>
        <input id="upstream-insecure" type="checkbox" checked={state.insecureSkipVerify} onChange={(e) => set('insecureSkipVerify', e.currentTarget.checked)} />
      </Field>
      <Field id="upstream-private-redirects" label="Follow redirects to private addresses (loopback, LAN)" inline>
        <input
          id="upstream-private-redirects"
          type="checkbox"
          checked={state.allowPrivateRedirects}
          onChange={(e) => set('allowPrivateRedirects', e.currentTarget.checked)}
        />
      </Field>
      <RetriesAndCircuit fields={fields} open={advancedOpen} onToggle={onToggle} />
    </fieldset>
  );
}

/** Retries and circuit breaker, folded away: most upstreams keep the defaults. */
export function RetriesAndCircuit({ fields, open, onToggle }: { fields: UpstreamFields; open: boolean; onToggle(open: boolean): void }) {
  const { state, errors, set, aria } = fields;
  return (
      <details class="advanced" open={open} onToggle={(e) => onToggle(e.currentTarget.open)} data-testid="upstream-advanced">
        <summary>Retries and circuit breaker</summary>
        <p class="hint fieldset-hint">
          A failed request that is safe to repeat is tried again with a growing delay. After a number of failures in a row a URL is skipped for a
          while (its circuit opens), then tried once before it is used again.
        </p>
        <div class="grid three">
          <Field id="upstream-retryAttempts" label="Attempts" hint="Tries per request, 1 to 10." error={errors.retryAttempts}>
            <input {...aria('retryAttempts', true)} inputMode="numeric" value={state.retryAttempts} autoComplete="off" onInput={(e) => set('retryAttempts', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-retryMinDelay" label="First delay" hint="e.g. 200ms" error={errors.retryMinDelay}>
            <input {...aria('retryMinDelay', true)} value={state.retryMinDelay} autoComplete="off" onInput={(e) => set('retryMinDelay', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-retryMaxDelay" label="Longest delay" hint="e.g. 2s" error={errors.retryMaxDelay}>
            <input {...aria('retryMaxDelay', true)} value={state.retryMaxDelay} autoComplete="off" onInput={(e) => set('retryMaxDelay', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-circuitFailures" label="Failures to open" hint="Failures in a row, 1 to 1000." error={errors.circuitFailures}>
            <input {...aria('circuitFailures', true)} inputMode="numeric" value={state.circuitFailures} autoComplete="off" onInput={(e) => set('circuitFailures', e.currentTarget.value)} />
          </Field>
          <Field id="upstream-circuitOpenFor" label="Open for" hint="How long the URL is skipped, e.g. 30s." error={errors.circuitOpenFor}>
            <input {...aria('circuitOpenFor', true)} value={state.circuitOpenFor} autoComplete="off" onInput={(e) => set('circuitOpenFor', e.currentTarget.value)} />
          </Field>
        </div>
      </details>
  );
}

/** The image to look up, the Test button and the steps of the last test. */
export function TestSection({ fields, busy, test, onTest }: { fields: UpstreamFields; busy: 'save' | 'test' | undefined; test: TestResult | undefined; onTest(): void }) {
  const { state, set } = fields;
  return (
    <fieldset>
      <legend>Test</legend>
      <div class="test-row">
        <Field id="upstream-test-image" label="Image to look up (optional)" hint="repository:tag, e.g. library/alpine:latest; empty checks the registry only.">
          <input id="upstream-test-image" aria-describedby="upstream-test-image-hint" value={state.testImage} autoComplete="off" spellcheck={false} onInput={(e) => set('testImage', e.currentTarget.value)} />
        </Field>
        <button type="button" class="button" onClick={onTest} disabled={busy !== undefined} data-testid="upstream-test">
          {busy === 'test' ? 'Testing…' : 'Test connection'}
        </button>
      </div>
      {test ? <TestSteps result={test} title="Connection test" /> : null}
    </fieldset>
  );
}
