// Pins added through the admin, stored in SQLite, next to the config file's pins (read-only here). Both feed the
// eviction policy; a change applies to the next eviction run.
import type { CacheDatabase } from '../cache/db.js';
import { parsePin, PinError, type Pin } from '../cache/pins.js';
import { AdminError } from './admin-errors.js';

export class AdminPins {
  constructor(
    private readonly db: CacheDatabase,
    private fromConfig: readonly string[],
    /** Told the whole list (config first) after every change. */
    private readonly onChange: (pins: Pin[]) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  list(): Array<{ pin: string; source: 'config' | 'admin' }> {
    const stored = this.db.prepare('SELECT pattern FROM pins ORDER BY created_at, pattern').all() as Array<{ pattern: string }>;
    return [...this.fromConfig.map((pin) => ({ pin, source: 'config' as const })), ...stored.map((r) => ({ pin: r.pattern, source: 'admin' as const }))];
  }

  parsed(): Pin[] {
    return this.list().map((p) => parsePin(p.pin));
  }

  /** A config reload: the file's pins are now these. */
  setFromConfig(pins: readonly string[]): void {
    this.fromConfig = pins;
    this.onChange(this.parsed());
  }

  add(pattern: string): void {
    try {
      parsePin(pattern);
    } catch (err) {
      if (err instanceof PinError) throw new AdminError('VALIDATION', `pin: ${err.message}`, { fields: [{ path: 'pin', message: err.message }] });
      throw err;
    }
    this.db.prepare('INSERT INTO pins (pattern, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING').run(pattern, this.clock());
    this.onChange(this.parsed());
  }

  remove(pattern: string): void {
    if (this.fromConfig.includes(pattern)) throw new AdminError('READ_ONLY', `pin ${pattern} is declared in the config file; change it there`);
    const { changes } = this.db.prepare('DELETE FROM pins WHERE pattern = ?').run(pattern);
    if (!changes) throw new AdminError('NOT_FOUND', `no pin ${pattern}`);
    this.onChange(this.parsed());
  }
}
