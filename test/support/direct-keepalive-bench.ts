// What the kept-alive direct-read tests share (test/integration/direct-get-keepalive*.test.ts): a real loopback TLS
// server that writes its answers byte for byte and counts its connections (scripted-http-server.ts), the test CA
// the reads trust, a fresh pool per test (src/upstream/direct/direct-pool.ts), the server-side sockets in the order
// they connected, and the options of a direct GET to that server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { after, before, beforeEach } from 'node:test';
import type { DirectConnect } from '../../src/upstream/direct/direct-connect.js';
import type { DirectAnswer, DirectGetOptions } from '../../src/upstream/direct/direct-get.js';
import { DirectPool } from '../../src/upstream/direct/direct-pool.js';
import { createTestCa } from './pki.js';
import { startScriptedServer, type ScriptedServer } from './scripted-http-server.js';

/** The timeouts of the tests' direct GETs. */
export const keepAliveTimeouts = { connect: 2000, headers: 2000, idle: 2000 };

export interface KeepAliveBench {
  server: ScriptedServer;
  pool: DirectPool;
  /** The test CA's file, for an Upstream's `ca`. */
  caPath: string;
  /** Dial options trusting the test CA (one object: one pool key). */
  connect: DirectConnect;
  /** Server-side sockets, in the order they connected (this test's). */
  sockets: Socket[];
  /** The nth request on `socket`'s connection (1 for the first, which records the socket in `sockets`). */
  nth(socket: Socket): number;
  /** A direct GET of the server's blob URL through this test's pool. */
  options(extra?: Partial<DirectGetOptions>): DirectGetOptions;
}

/**
 * Registers the suite's hooks (call inside describe): the server and CA once, a fresh pool and counts before each
 * test with `script` as the server's default answer.
 */
export function keepAliveBench(prefix: string, script: (b: KeepAliveBench, socket: Socket) => void): KeepAliveBench {
  let dir = '';
  let served = new WeakMap<Socket, number>();
  const bench = {
    sockets: [] as Socket[],
    nth(socket: Socket): number {
      const n = (served.get(socket) ?? 0) + 1;
      served.set(socket, n);
      if (n === 1) bench.sockets.push(socket);
      return n;
    },
    options: (extra: Partial<DirectGetOptions> = {}): DirectGetOptions => ({
      url: new URL(`https://localhost:${bench.server.port}/v2/x/blobs/sha256:00`),
      headers: { 'user-agent': 'pullgate-test' },
      connect: bench.connect,
      timeouts: keepAliveTimeouts,
      pool: bench.pool,
      ...extra,
    }),
  } as KeepAliveBench;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    const ca = await createTestCa(dir);
    bench.caPath = ca.caCertPath;
    bench.connect = { ca: [...rootCertificates, ca.caCertPem], rejectUnauthorized: true };
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    bench.server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, () => undefined);
  });
  beforeEach(() => {
    bench.pool?.close();
    bench.pool = new DirectPool();
    served = new WeakMap();
    bench.sockets = [];
    bench.server.connections = 0;
    bench.server.heads.length = 0;
    bench.server.script = ({ socket }) => script(bench, socket);
  });
  after(async () => {
    bench.pool.close();
    await bench.server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return bench;
}

export const responseOf = (a: DirectAnswer): Extract<DirectAnswer, { kind: 'response' }> => {
  assert.equal(a.kind, 'response');
  return a as Extract<DirectAnswer, { kind: 'response' }>;
};

/** The whole body of an answer, read through its Readable face. */
export async function readAll(a: DirectAnswer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of responseOf(a).body) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export const closed = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
