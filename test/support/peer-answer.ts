// Reads a peer's streaming answer (src/cluster/peer-client.ts) as the following fill does (cluster-fills.ts): its
// chunk source, each chunk copied, optionally held back once (backpressure, as a fill whose disk is slow).
import assert from 'node:assert/strict';
import type { PeerAnswer } from '../../src/cluster/peer-client.js';
import { chunkSourceOf } from '../../src/upstream/chunk-source.js';

/** Every byte of a streaming answer, or the error that ended it; `pauseMs`: the first chunk pauses reading that long. */
export function readPeerAnswer(answer: PeerAnswer, pauseMs = 0): Promise<{ bytes: Buffer; error?: Error }> {
  assert.equal(answer.kind, 'streaming', JSON.stringify(answer));
  const source = chunkSourceOf((answer as Extract<PeerAnswer, { kind: 'streaming' }>).body);
  const parts: Buffer[] = [];
  let paused = false;
  return new Promise((resolve) =>
    source.deliver(
      (chunk) => {
        parts.push(Buffer.from(chunk));
        if (pauseMs > 0 && !paused) {
          paused = true;
          source.pause();
          setTimeout(() => source.resume(), pauseMs);
        }
      },
      (error) => resolve({ bytes: Buffer.concat(parts), ...(error ? { error } : {}) }),
    ),
  );
}
