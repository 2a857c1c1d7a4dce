// What the mirror last saw of an upstream: when it last answered well, its last failure (5xx, 429, connection
// error, timeout). Read by the admin's upstream view; fed by every upstream request.
export interface HealthSnapshot {
  /** null until the mirror has talked to the upstream. */
  reachable: boolean | null;
  lastOkAt: number | null;
  lastError: { at: number; message: string } | null;
}

export class UpstreamHealth {
  private lastOkAt: number | null = null;
  private lastError: { at: number; message: string } | null = null;

  constructor(private readonly clock: () => number) {}

  answered(status: number): void {
    if (status >= 500 || status === 429) this.failed(`HTTP ${status}`);
    else this.lastOkAt = this.clock();
  }

  failed(message: string): void {
    this.lastError = { at: this.clock(), message };
  }

  snapshot(): HealthSnapshot {
    const reachable =
      this.lastOkAt === null && this.lastError === null ? null : this.lastError === null || (this.lastOkAt ?? -1) > this.lastError.at;
    return { reachable, lastOkAt: this.lastOkAt, lastError: this.lastError };
  }
}
