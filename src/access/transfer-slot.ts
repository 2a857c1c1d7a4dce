// One of a client's concurrent transfers (access.limits.concurrentTransfers), held by its request and by the work
// the request started: a blob fill goes on when its client leaves (it is shared by every request for the blob), so
// the slot is given back only when the response is over and every fill the request started is over too. A client
// cannot start fetches beyond its limit by asking and hanging up.
export interface TransferHold {
  /** Keeps the slot taken until `work` settles, as well as until the response ends. */
  holdUntil(work: Promise<unknown>): void;
}

export class TransferSlot implements TransferHold {
  private pending = 1; // the response itself
  private released = false;

  constructor(private readonly release: () => void) {}

  holdUntil(work: Promise<unknown>): void {
    if (this.released) return;
    this.pending++;
    const done = (): void => this.settle();
    work.then(done, done);
  }

  /** The response is over (sent, failed, or the client left). */
  end(): void {
    this.settle();
  }

  private settle(): void {
    if (this.released || --this.pending > 0) return;
    this.released = true;
    this.release();
  }
}
