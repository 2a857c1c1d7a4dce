// Add or edit an upstream. Obvious mistakes are caught as the user leaves a field; everything else comes back
// from the server as VALIDATION field errors (dotted paths such as `url`, `auth.username`, `access.allow.0`), each
// shown under its field (upstream-form-model.ts maps them). "Test" tries the unsaved settings against the real
// upstream before anything is stored.
import { href } from '../router.js';
import type { UpstreamView } from '../types.js';
import { ConnectionSection, CredentialsSection, RegistrySection, SignatureSection, TestSection, WhatMayBePulledSection, WhoMayPullSection } from './upstream-form-sections.js';
import { useUpstreamActions, useUpstreamFields } from './use-upstream-form.js';

export function UpstreamForm({ existing, onSaved }: { existing?: UpstreamView; onSaved(name: string): Promise<void> }) {
  const form = useUpstreamFields(existing);
  const { fields, advancedOpen, setAdvancedOpen } = form;
  const { errors, editing } = fields;
  const { busy, test, runTest, save } = useUpstreamActions(form, onSaved);

  return (
    <form class="card upstream-form" onSubmit={save} noValidate data-testid="upstream-form">
      <h2>{existing ? `Edit ${existing.name}` : 'Add an upstream'}</h2>
      {errors.form ? (
        <p class="form-error" role="alert" data-testid="form-error">
          {errors.form}
        </p>
      ) : null}

      <RegistrySection fields={fields} />
      <CredentialsSection fields={fields} />
      <WhoMayPullSection fields={fields} />
      <WhatMayBePulledSection fields={fields} />
      <SignatureSection fields={fields} />
      <ConnectionSection fields={fields} advancedOpen={advancedOpen} onToggle={setAdvancedOpen} />
      <TestSection fields={fields} busy={busy} test={test} onTest={() => void runTest()} />

      <div class="actions">
        <a class="button" href={href('upstreams')}>
          Cancel
        </a>
        <button type="submit" class="button primary" disabled={busy !== undefined} data-testid="upstream-save">
          {busy === 'save' ? 'Saving…' : editing ? 'Save changes' : 'Add upstream'}
        </button>
      </div>
    </form>
  );
}
