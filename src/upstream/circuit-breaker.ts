// A circuit breaker for one upstream URL (docs/architecture.md, "Decision: one circuit breaker per upstream URL"):
// closed until `failures` consecutive failures, then open for `openForMs` (requests skip the URL at once, so cached
// content is served without waiting on a dead host), then half-open: exactly one probe goes through and its outcome
// closes or re-opens the circuit.
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitSettings {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long an open circuit refuses before it lets one probe through. */
  openForMs: number;
}

export interface CircuitChange {
  from: CircuitState;
  to: CircuitState;
  /** Consecutive failures when the change happened. */
  failures: number;
  /** The failure that opened the circuit, when it opened. */
  reason?: string;
}

/** One request's right to use the URL; it reports its outcome exactly once (later reports are ignored). */
export interface CircuitPermit {
  success(): void;
  failure(reason: string): void;
  /** The request ended without a verdict (the client left): a probe's slot is given back. */
  release(): void;
}

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  /** Counts state changes: a permit reports only into the state it was given in. */
  private epoch = 0;
  private lastFailure: string | undefined;

  constructor(
    private readonly settings: CircuitSettings,
    private readonly clock: () => number,
    private readonly onChange: (change: CircuitChange) => void = () => undefined,
  ) {}

  /** The state now: an open circuit whose time is up reads as half-open. */
  get state(): CircuitState {
    if (this.current === 'open' && this.clock() - this.openedAt >= this.settings.openForMs) return 'half-open';
    return this.current;
  }

  get failures(): number {
    return this.consecutive;
  }

  /** When an open circuit lets its probe through (epoch ms), or undefined when it is not open. */
  get retryAt(): number | undefined {
    return this.current === 'open' ? this.openedAt + this.settings.openForMs : undefined;
  }

  /**
   * May a request go to this URL now? A permit, or undefined when refused. The request reports through its permit
   * exactly once: success(), failure() or release(). In half-open the one permit handed out is the probe, and
   * everyone else is refused until it reports. A permit from before the circuit last changed (a request sent while
   * it was closed that ends during the probe) is no verdict: its report changes nothing, so it can neither free the
   * probe's slot nor close or re-open the circuit under the probe.
   */
  tryAcquire(): CircuitPermit | undefined {
    const state = this.state;
    if (state === 'open') return undefined;
    if (state === 'half-open') {
      if (this.probing) return undefined;
      if (this.current !== 'half-open') this.move('half-open');
      this.probing = true;
    }
    return this.permit(this.epoch, state === 'half-open');
  }

  private permit(epoch: number, probe: boolean): CircuitPermit {
    let reported = false;
    const report = (verdict: () => void) => {
      if (reported) return;
      reported = true;
      if (epoch !== this.epoch) return;
      if (probe) this.probing = false;
      verdict();
    };
    return {
      success: () => report(() => this.succeeded()),
      failure: (reason) => report(() => this.failed(reason)),
      release: () => report(() => undefined),
    };
  }

  private succeeded(): void {
    this.consecutive = 0;
    if (this.current !== 'closed') this.move('closed');
  }

  private failed(reason: string): void {
    this.consecutive++;
    this.lastFailure = reason;
    if (this.current === 'half-open' || (this.current === 'closed' && this.consecutive >= this.settings.failures)) {
      this.openedAt = this.clock();
      this.move('open', reason);
    }
  }

  /** The last failure seen, for the admin view and the error a refused request gets. */
  get lastReason(): string | undefined {
    return this.lastFailure;
  }

  private move(to: CircuitState, reason?: string): void {
    const from = this.current;
    this.current = to;
    this.epoch++;
    this.onChange({ from, to, failures: this.consecutive, ...(reason !== undefined ? { reason } : {}) });
  }
}
