// A timeout for silence on the byte path (a fill's idle timeout, a resumed body's stall timeout): each chunk only
// records when it came (touch), where a timer refresh per chunk re-inserted the timer into Node's timer list for
// every 16 KiB TLS record, three times per record on a cold pull's path (docs/architecture.md, "Decision: blobs
// stream, verify, then commit"). When the timer fires before the silence is long enough, it waits for the rest:
// it fires exactly `ms` after the last touch, as a refreshed timer would.
export class QuietTimer {
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ms: number,
    private readonly onQuiet: () => void,
  ) {
    this.schedule(ms);
  }

  /** A chunk came (`now`: the caller's clock reading, when it has one). */
  touch(now = performance.now()): void {
    this.last = now;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    const quiet = performance.now() - this.last;
    if (quiet < this.ms) return this.schedule(this.ms - quiet);
    this.onQuiet();
  }
}
