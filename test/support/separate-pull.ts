// A blob GET on a connection of its own, hashing what it gets: with several workers (node:cluster hands connections to
// the workers in turn) the clients spread over the workers, and each says whether its first bytes came while the
// upstream transfer was still running (a follower of a fill in progress, not a reader of the stored blob).
import { createHash } from 'node:crypto';
import { Client } from 'undici';

export interface Pulled {
  status: number;
  sha256?: string;
  bytes: number;
  error?: string;
  /** Whether `filling()` said the upstream's transfer was still running when the first body bytes came. */
  firstByteWhileFilling: boolean;
}

export async function pullOnOwnConnection(url: string, path: string, filling: () => boolean, headers: Record<string, string> = {}): Promise<Pulled> {
  const client = new Client(url);
  let bytes = 0;
  let firstByteWhileFilling = false;
  try {
    const res = await client.request({ method: 'GET', path, headers });
    const hash = createHash('sha256');
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (bytes === 0) firstByteWhileFilling = filling();
        bytes += chunk.length;
        hash.update(chunk);
      }
    } catch (err) {
      return { status: res.statusCode, bytes, error: (err as Error).message, firstByteWhileFilling };
    }
    return { status: res.statusCode, sha256: `sha256:${hash.digest('hex')}`, bytes, firstByteWhileFilling };
  } catch (err) {
    return { status: 0, bytes, error: (err as Error).message, firstByteWhileFilling };
  } finally {
    await client.close().catch(() => undefined);
  }
}
