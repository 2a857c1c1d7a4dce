// Pins: the list (config-file pins are read-only), an add form and remove buttons. A pin naming an upstream that
// does not exist is refused by the server next to the field.
import { useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { describedBy, Field } from '../components/field.js';
import { ResourceView } from '../components/resource-view.js';
import { focusFirstError, formErrors, type FormErrors } from '../form-errors.js';
import { useAction } from '../use-action.js';
import { useResource } from '../use-resource.js';
import type { PinList } from '../types.js';

const fieldKeys = ['pin'] as const;

export function PinsCard() {
  const { api, notify, reveal } = useApp();
  const run = useAction();
  const pins = useResource<PinList>('/api/cache/pins');
  const [pin, setPin] = useState('');
  const [errors, setErrors] = useState<FormErrors<'pin'>>({});

  const add = async (e: Event): Promise<void> => {
    e.preventDefault();
    const value = pin.trim();
    try {
      await api.send<PinList>('POST', '/api/cache/pins', { pin: value });
      setPin('');
      setErrors({});
      await pins.reload();
      notify(`Pinned ${value}.`);
      reveal(`pin-${value}`);
    } catch (err) {
      const next = formErrors(err, fieldKeys, 'pin');
      // Nothing else on this form: every refusal is about the pin.
      const found = next.form ? { pin: next.form } : next;
      setErrors(found);
      focusFirstError(found, 'pin');
    }
  };
  const remove = (value: string): Promise<unknown> =>
    run({ act: () => api.send<PinList>('DELETE', '/api/cache/pins', { pin: value }), done: `Unpinned ${value}.`, reload: pins.reload });

  return (
    <section class="card" aria-labelledby="pins-title">
      <h2 id="pins-title">Pins</h2>
      <p class="muted">Pinned images are never evicted.</p>
      <ResourceView resource={pins} boxed={false} isEmpty={(d) => d.pins.length === 0} empty="No pin.">
        {(d) => (
          <ul class="pin-list" data-testid="pins">
            {d.pins.map((p) => (
              <li key={p.pin} data-row-key={`pin-${p.pin}`}>
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
        )}
      </ResourceView>
      <form class="inline-form" onSubmit={add} noValidate data-testid="pin-form">
        <Field id="pin-pin" label="New pin" hint="upstream/repository[:tag], * matches anything: hub/library/*, corp/team/app:v*" error={errors.pin}>
          <input
            id="pin-pin"
            value={pin}
            required
            autoComplete="off"
            spellcheck={false}
            aria-invalid={errors.pin ? true : undefined}
            aria-describedby={describedBy('pin-pin', true, errors.pin)}
            onInput={(e) => {
              setPin(e.currentTarget.value);
              setErrors({});
            }}
          />
        </Field>
        <button type="submit" class="button" disabled={pin.trim().length < 3} data-testid="pin-add">
          Add pin
        </button>
      </form>
    </section>
  );
}
