// A circuit breaker for one upstream URL (ARCHITECTURE.md: "uplink with a small circuit breaker"): closed until
// `failures` consecutive failures, then open for `openForMs` (requests skip the URL at once, so cached content is
// served without waiting on a dead host), then half-open: exactly one probe goes through and its outcome closes
// or re-opens the circuit.
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

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
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
   * May a request go to this URL now? A true answer must be followed by exactly one of success(), failure() or
   * release(): in half-open it is the one probe, and everyone else is refused until it reports.
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.probing) return false;
    if (this.current !== 'half-open') this.move('half-open');
    this.probing = true;
    return true;
  }

  success(): void {
    this.probing = false;
    this.consecutive = 0;
    if (this.current !== 'closed') this.move('closed');
  }

  failure(reason: string): void {
    this.probing = false;
    this.consecutive++;
    this.lastFailure = reason;
    if (this.current === 'half-open' || (this.current === 'closed' && this.consecutive >= this.settings.failures)) {
      this.openedAt = this.clock();
      this.move('open', reason);
    }
  }

  /** The request ended without a verdict (the client left): a probe slot is given back. */
  release(): void {
    this.probing = false;
  }

  /** The last failure seen, for the admin view and the error a refused request gets. */
  get lastReason(): string | undefined {
    return this.lastFailure;
  }

  private move(to: CircuitState, reason?: string): void {
    const from = this.current;
    this.current = to;
    this.onChange({ from, to, failures: this.consecutive, ...(reason !== undefined ? { reason } : {}) });
  }
}
