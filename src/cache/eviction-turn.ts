// The hook for "eviction on one replica at a time" (docs/storage.md, "One fetch per cluster"): every eviction run goes
// through the turn in force. A single server runs it at once; the cluster sets a turn that claims the eviction lease in
// the bucket and answers undefined (nothing evicted) while another replica holds it.
export type EvictionTurn = <T>(run: () => Promise<T>) => Promise<T | undefined>;

export const everyTurn: EvictionTurn = (run) => run();
