// The docker-registry child process: start on a free loopback port, wait until /v2/ answers, keep its logs,
// and make sure it never outlives the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort } from './loopback-listener.js';

export interface RegistryProcess {
  port: number;
  pid: number | undefined;
  /** stdout and stderr so far (the last few MB). */
  logs(): string;
  /** SIGTERM, then SIGKILL after 5 s; idempotent. */
  stop(): Promise<void>;
}

export interface LaunchOptions {
  configPath: string;
  /** The config for a given port: docker-registry cannot listen on port 0 and report the port. */
  configFor(port: number): string;
  caPem: string;
  /** 401 with token auth, 200 without. */
  expectedStatus: number;
  startTimeoutMs?: number;
}

const maxLogChars = 4 * 1024 * 1024;
const startAttempts = 3;

// util-linux's setpriv sets PR_SET_PDEATHSIG, so the registry dies with the test process even when that is
// killed by a signal and no 'exit' handler runs (a node --test timeout, Ctrl-C).
const findSetpriv = (): Promise<string | undefined> =>
  access('/usr/bin/setpriv', constants.X_OK).then(() => '/usr/bin/setpriv', () => undefined);

function spawnRegistry(configPath: string, setpriv: string | undefined): ChildProcess {
  const args = ['serve', configPath];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  if (setpriv === undefined) return spawn('docker-registry', args, { stdio });
  return spawn(setpriv, ['--pdeathsig', 'KILL', '--', 'docker-registry', ...args], { stdio });
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

async function kill(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitForV2(url: string, caPem: string, child: ChildProcess, timeoutMs: number): Promise<number> {
  const agent = new Agent({ connect: { ca: caPem } });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (!running(child)) throw new Error('docker-registry exited during start-up');
      const status = await request(`${url}/v2/`, { dispatcher: agent })
        .then(async (res) => (await res.body.dump(), res.statusCode))
        .catch(() => 0);
      if (status !== 0) return status;
      await sleep(50);
    }
    throw new Error(`docker-registry did not answer /v2/ within ${timeoutMs} ms`);
  } finally {
    await agent.close();
  }
}

export async function launchRegistryProcess(opts: LaunchOptions): Promise<RegistryProcess> {
  const setpriv = await findSetpriv();
  let log = '';
  const appendLog = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > maxLogChars) log = log.slice(-maxLogChars / 2);
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < startAttempts; attempt++) {
    const port = await freePort('127.0.0.1');
    await writeFile(opts.configPath, opts.configFor(port));
    const logStart = log.length;
    const child = spawnRegistry(opts.configPath, setpriv);
    child.stdout?.on('data', appendLog);
    child.stderr?.on('data', appendLog);
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    spawnError.catch(() => undefined);
    try {
      const url = `https://127.0.0.1:${port}`;
      const status = await Promise.race([waitForV2(url, opts.caPem, child, opts.startTimeoutMs ?? 20_000), spawnError]);
      if (status !== opts.expectedStatus) throw new Error(`docker-registry answered /v2/ with ${status}, expected ${opts.expectedStatus}`);
    } catch (err) {
      lastError = err;
      await kill(child, 'SIGKILL', 0);
      // Only a lost race for the port is worth another attempt.
      if (/address already in use/.test(log.slice(logStart))) continue;
      break;
    }
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.on('exit', killOnExit);
    let stopping: Promise<void> | undefined;
    return {
      port,
      pid: child.pid,
      logs: () => log,
      stop: () =>
        (stopping ??= (async () => {
          process.off('exit', killOnExit);
          await kill(child, 'SIGTERM', 5_000);
        })()),
    };
  }
  throw new Error(`docker-registry failed to start: ${String(lastError)}\n${log}`);
}
