// A fixed number of equal buffers lent out and given back: what the cache-hit send path writes from
// (src/server/send-file.ts). Buffers are made on first need and kept, so a busy process holds at most
// `slots * slotBytes` here whatever the number of clients, and an idle one only what it once needed
// (docs/architecture.md, "Decision: memory is flat in clients and blob size"). Hand-written: it sits on the hot
// byte path and is a dozen lines.

export class BufferPool {
  private readonly free: Buffer[] = [];
  private made = 0;

  constructor(
    readonly slotBytes: number,
    readonly slots: number,
  ) {}

  /** A buffer of `slotBytes`, or undefined when every slot is lent out. */
  take(): Buffer | undefined {
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.made >= this.slots) return undefined;
    this.made++;
    // Outside Node's shared allocation pool: these are long-lived and reused.
    return Buffer.allocUnsafeSlow(this.slotBytes);
  }

  /** Back for the next response: only once nothing (a socket write) refers to it any more. */
  giveBack(buffer: Buffer): void {
    this.free.push(buffer);
  }

  /** Buffers lent out now. */
  get lent(): number {
    return this.made - this.free.length;
  }

  /** Bytes this pool holds (lent out or free). */
  get bytes(): number {
    return this.made * this.slotBytes;
  }
}
