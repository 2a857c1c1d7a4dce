// Pins: the list (config-file pins are read-only), an add form and remove buttons.
import { useState } from 'preact/hooks';
import { ApiError, errorMessage } from '../api.js';
import { useApp } from '../app-context.js';
import { Field } from '../components/field.js';
import { useResource } from '../use-resource.js';
import type { PinList } from '../types.js';

export function PinsCard() {
  const { api, notify } = useApp();
  const pins = useResource<PinList>('/api/cache/pins');
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);

  const add = async (e: Event): Promise<void> => {
    e.preventDefault();
    try {
      await api.send<PinList>('POST', '/api/cache/pins', { pin: pin.trim() });
      notify(`Pinned ${pin.trim()}.`);
      setPin('');
      setError(undefined);
      await pins.reload();
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length ? err.fields.map((f) => f.message).join('; ') : errorMessage(err));
    }
  };
  const remove = async (value: string): Promise<void> => {
    try {
      await api.send<PinList>('DELETE', '/api/cache/pins', { pin: value });
      notify(`Unpinned ${value}.`);
      await pins.reload();
    } catch (err) {
      notify(errorMessage(err), 'error');
    }
  };

  return (
    <section class="card" aria-labelledby="pins-title">
      <h2 id="pins-title">Pins</h2>
      <p class="muted">Pinned images are never evicted.</p>
      {pins.data && pins.data.pins.length ? (
        <ul class="pin-list" data-testid="pins">
          {pins.data.pins.map((p) => (
            <li key={p.pin}>
              <span class="mono">{p.pin}</span>
              {p.source === 'config' ? (
                <span class="badge source-config" title="From the config file: read-only here.">
                  config
                </span>
              ) : (
                <button type="button" class="button small" onClick={() => void remove(p.pin)} aria-label={`Unpin ${p.pin}`}>
                  Unpin
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p class="empty">{pins.data ? 'No pin.' : 'Loading…'}</p>
      )}
      <form class="inline-form" onSubmit={add}>
        <Field id="pin-new" label="New pin" hint="upstream/repository[:tag], * matches anything: hub/library/*, corp/team/app:v*" error={error}>
          <input
            id="pin-new"
            value={pin}
            required
            autoComplete="off"
            spellcheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'pin-new-hint pin-new-error' : 'pin-new-hint'}
            onInput={(e) => setPin(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="button" disabled={pin.trim().length < 3}>
          Add pin
        </button>
      </form>
    </section>
  );
}
