// A plain TCP relay on a free loopback port in front of another loopback port: another address of the same server
// (what `redirectEndpoint` names), which also keeps every byte clients sent through it, so a test can read the
// request heads the server got (e.g. that no Authorization header reached an object store).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpRelay {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Everything clients sent through the relay so far, as latin1 text (request heads are ASCII). */
  sent(): string;
  close(): Promise<void>;
}

const maxKept = 4 * 1024 * 1024;

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  let accepted = 0;
  let sent = '';
  const open = new Set<Socket>();
  const server = createServer((client) => {
    accepted++;
    const target = connect(targetPort, '127.0.0.1');
    for (const s of [client, target]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (sent.length < maxKept) sent += chunk.toString('latin1');
    });
    client.pipe(target).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    sent: () => sent,
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
