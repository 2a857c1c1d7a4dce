// Debian's pebble (RFC 8555 test CA) as a child process on loopback: its directory and management API behind a
// certificate from the test CA, challenges validated against the ports the test names. Validation is real
// (no PEBBLE_VA_ALWAYS_VALID); only the random validation delay is off.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort } from './loopback-listener.js';
import type { TestCa } from './pki.js';

export interface Pebble {
  directoryUrl: string;
  /** The root that signs the certificates this pebble issues (new on every start). */
  rootPem(): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  dir: string;
  ca: TestCa;
  /** The port pebble connects to for HTTP-01 on every hostname. */
  httpPort: number;
  tlsPort?: number;
}

export async function startPebble(o: PebbleOptions): Promise<Pebble> {
  const served = await o.ca.issue('pebble', ['localhost'], ['127.0.0.1']);
  const [acmePort, managementPort] = [await freePort(), await freePort()];
  const configPath = join(o.dir, 'pebble-config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: served.certPath,
        privateKey: served.keyPath,
        httpPort: o.httpPort,
        tlsPort: o.tlsPort ?? (await freePort()),
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  let log = '';
  // setpriv: pebble dies with the test process even when that is killed without running 'exit' handlers.
  const child: ChildProcess = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'pebble', '-config', configPath, '-strict=false'], {
    // Every order validates afresh, so a renewal answers a challenge again.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const agent = new Agent({ connect: { ca: o.ca.caCertPem } });
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    await agent.close();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await request(directoryUrl, { dispatcher: agent }).then(async (r) => (await r.body.dump(), r.statusCode), () => 0);
    if (status === 200) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`pebble did not start: ${log}`);
    }
    await sleep(100);
  }
  return {
    directoryUrl,
    async rootPem() {
      const r = await request(`https://127.0.0.1:${managementPort}/roots/0`, { dispatcher: agent });
      if (r.statusCode !== 200) throw new Error(`pebble /roots/0 answered ${r.statusCode}`);
      return r.body.text();
    },
    logs: () => log,
    stop,
  };
}
