// A real S3 server for tests: Debian's Ceph radosgw on a single-node cluster bootstrapped by hand (docs/testing.md,
// "A real S3 server: Ceph radosgw"): one mon, one memstore OSD and radosgw, all on free loopback ports under a temp
// dir, killed with the test process (setpriv's PDEATHSIG). No systemd, no cephadm, no mgr (plain I/O needs none).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { assertInstalled, runTool } from './installed-tools.js';
import { freePort } from './loopback-listener.js';

export const radosgwPrograms = ['radosgw', 'ceph-mon', 'ceph-osd', 'ceph', 'ceph-authtool', 'monmaptool', 'radosgw-admin'];

export interface Radosgw {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /**
   * Every request radosgw has answered so far, from its beast access log: the ground truth for bucket traffic.
   * Ceph writes its log from a thread of its own, a moment after the answer: this waits until the log stops growing.
   */
  requests(): Promise<RgwRequest[]>;
  /** The last lines of every daemon's output, for failure messages. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s) to every daemon, then the temp dir is removed; idempotent. */
  stop(): Promise<void>;
}

/** The `cache.storage` block of a mirror whose blobs live in `bucket` on this radosgw (path-style, its own keys). */
export function rgwStorage(rgw: Radosgw, bucket: string, prefix = '') {
  return {
    type: 's3' as const,
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket,
    prefix,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    forcePathStyle: true as const,
  };
}

export interface RgwRequest {
  method: string;
  /** Path-style: `/<bucket>/<key>`, without the query string. */
  path: string;
  query: string;
  status: number;
  /** The Range header's value (`bytes=0-99`), when the request had one. */
  range?: string;
}

const maxLogChars = 256 * 1024;
const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return [
    '[global]',
    `fsid = ${fsid}`,
    'mon initial members = a',
    `mon host = v2:127.0.0.1:${monPort}`,
    'public addr = 127.0.0.1',
    'ms bind msgr1 = false',
    'auth cluster required = cephx',
    'auth service required = cephx',
    'auth client required = cephx',
    `keyring = ${join(dir, 'keyring')}`,
    `run dir = ${join(dir, 'run')}`,
    `admin socket = ${join(dir, 'run')}/$name.asok`,
    `log file = ${join(dir, 'log')}/$name.log`,
    `mon data = ${join(dir, 'mon')}/$cluster-$id`,
    `osd data = ${join(dir, 'osd')}/$cluster-$id`,
    // One OSD: pools of size one, few placement groups, and no autoscaler (it needs a mgr).
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'mon allow pool size one = true',
    'mon warn on pool no redundancy = false',
    'osd pool default pg num = 8',
    'osd pool default pgp num = 8',
    'osd pool default pg autoscale mode = off',
    'osd objectstore = memstore',
    'memstore device bytes = 2147483648',
    'osd fast shutdown = false',
    'osd crush chooseleaf type = 0',
    // From ~14 s to a few seconds for a cold start: each map change is proposed at once.
    'paxos propose interval = 0.05',
    'rgw gc obj min wait = 60',
    '',
    '[client.rgw]',
    `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
    `rgw data = ${join(dir, 'rgw')}`,
    'rgw dns name = 127.0.0.1',
    '',
  ].join('\n');
}

export async function startRadosgw(): Promise<Radosgw> {
  await assertInstalled(...radosgwPrograms, 'setpriv');
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-radosgw-'));
  for (const sub of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw']) await mkdir(join(dir, sub), { recursive: true });
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));
  const keyring = join(dir, 'keyring');
  const children: ChildProcess[] = [];
  let logs = '';

  const tool = (file: string, args: string[], timeoutMs = 60_000) => runTool(file, ['-c', conf, ...args], { timeoutMs });
  const daemon = (file: string, args: string[]): ChildProcess => {
    const child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', file, '-f', '-c', conf, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      logs = (logs + `[${file}] ${chunk.toString('utf8')}`).slice(-maxLogChars);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.push(child);
    return child;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // radosgw first, the mon last: an OSD without its mon waits for it instead of exiting.
      for (const child of [...children].reverse()) {
        if (!running(child)) continue;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })());

  const accessKeyId = `PG${randomBytes(9).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');
  try {
    // Every key up front in one keyring, imported into the mon at mkfs: no bootstrap-osd dance.
    const caps: Array<[string, string[]]> = [
      ['mon.', ['--cap', 'mon', 'allow *']],
      ['client.admin', ['--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']],
      ['osd.0', ['--cap', 'mon', 'allow profile osd', '--cap', 'osd', 'allow *']],
      ['client.rgw', ['--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx']],
    ];
    for (const [i, [name, cap]] of caps.entries()) {
      await runTool('ceph-authtool', [...(i === 0 ? ['--create-keyring'] : []), keyring, '--gen-key', '-n', name, ...cap]);
    }
    const monmap = join(dir, 'monmap');
    await runTool('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, monmap]);
    await tool('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
    const mon = daemon('ceph-mon', ['-i', 'a']);

    const osdUuid = randomUUID();
    await retry(() => tool('ceph', ['--connect-timeout', '5', 'osd', 'new', osdUuid, '0'], 10_000), 30_000, () => running(mon));
    await tool('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    daemon('ceph-osd', ['-i', '0']);
    daemon('radosgw', ['-n', 'client.rgw']);
    await tool('radosgw-admin', ['user', 'create', '--uid', 'pullgate', '--display-name', 'Pullgate tests', '--access-key', accessKeyId, '--secret-key', secretAccessKey], 60_000);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const dead = children.find((c) => !running(c));
      if (dead) throw new Error(`a ceph daemon exited during start-up`);
      const up = await request(endpoint, { method: 'GET' }).then(
        async (res) => {
          await res.body.dump();
          return true;
        },
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${endpoint} within 60 s`);
      await sleep(100);
    }
    const logFile = join(dir, 'log', 'client.rgw.log');
    const requests = async (): Promise<RgwRequest[]> => {
      let text = await readFile(logFile, 'utf8');
      for (let i = 0; i < 20; i++) {
        await sleep(150);
        const later = await readFile(logFile, 'utf8');
        if (later.length === text.length) break;
        text = later;
      }
      return parseAccessLog(text);
    };
    return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, dir, requests, logs: () => logs, stop };
  } catch (err) {
    const message = `${err instanceof Error ? err.message : String(err)}\n${logs.slice(-4000)}`;
    await stop();
    throw new Error(`starting radosgw failed: ${message}`, { cause: err });
  }
}

async function retry<T>(step: () => Promise<T>, withinMs: number, alive: () => boolean): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!alive() || Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/**
 * beast's access lines: `"GET /bucket/key?x-id=GetObject HTTP/1.1" 206 100 - "agent" bytes=0-99 latency=...`; a client
 * that sends no User-Agent is logged with a bare `-` there.
 */
function parseAccessLog(text: string): RgwRequest[] {
  const out: RgwRequest[] = [];
  const pattern = /beast: \S+ \S+ - \S+ \[[^\]]*\] "(\w+) ([^" ?]+)(?:\?([^" ]*))? HTTP\/[\d.]+" (\d{3}) \S+ \S+ (?:"[^"]*"|-) (\S+) latency=/g;
  for (const m of text.matchAll(pattern)) {
    const range = m[5] !== undefined && m[5] !== '-' ? m[5] : undefined;
    out.push({ method: m[1] ?? '', path: m[2] ?? '', query: m[3] ?? '', status: Number(m[4]), ...(range ? { range } : {}) });
  }
  return out;
}
