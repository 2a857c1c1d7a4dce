// Active direct reads per origin, bounded as undici bounds its pool's connections per origin (dispatcher.ts,
// `connectionsPerOrigin`; docs/operating.md, "Direct reads of blob bodies"): beyond the bound a read waits for a
// slot, first come first served, as a request waits in undici's queue: the wait has no timer of its own (connect,
// headers and body idle time run once it has its slot), and the caller's abort takes it out of the line.
import { errors as undiciErrors } from 'undici';
import { connectionsPerOrigin } from '../dispatcher.js';

interface Origin {
  active: number;
  waiting: Array<{ admit: () => void }>;
}

export class DirectSlots {
  private readonly origins = new Map<string, Origin>();

  constructor(private readonly perOrigin = connectionsPerOrigin) {}

  /** Active reads of `origin` now, and reads waiting for a slot (metrics, tests). */
  count(origin: string): { active: number; waiting: number } {
    const o = this.origins.get(origin);
    return { active: o?.active ?? 0, waiting: o?.waiting.length ?? 0 };
  }

  /** A slot of `origin`: its release, to call once when the read is over (closed or its connection kept idle). */
  acquire(origin: string, signal?: AbortSignal): Promise<() => void> {
    let o = this.origins.get(origin);
    if (!o) {
      o = { active: 0, waiting: [] };
      this.origins.set(origin, o);
    }
    const entry = o;
    if (entry.active < this.perOrigin) {
      entry.active++;
      return Promise.resolve(this.releaser(origin, entry));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser(origin, entry));
        },
      };
      const onAbort = (): void => {
        const at = entry.waiting.indexOf(waiter);
        if (at >= 0) entry.waiting.splice(at, 1);
        reject(signal?.reason ?? new undiciErrors.RequestAbortedError());
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      entry.waiting.push(waiter);
    });
  }

  /** Hands the slot to the first in line, else frees it; once only. */
  private releaser(origin: string, entry: Origin): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = entry.waiting.shift();
      if (next) return next.admit();
      entry.active--;
      if (entry.active === 0 && this.origins.get(origin) === entry) this.origins.delete(origin);
    };
  }
}
