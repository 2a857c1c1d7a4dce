// Polls `probe` until it returns a value: for effects that land a moment after the answer (an upload to a bucket
// once the client has its bytes, a released lease).
export async function until<T>(probe: () => Promise<T | undefined>, ms = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
