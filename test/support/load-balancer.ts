// A real load balancer in front of several mirror replicas (docs/storage.md, "Several replicas"): Debian's nginx,
// round-robin over N backends on a free loopback port, set up the way docs/storage.md, "The load balancer", asks of a
// production one: no buffering (a blob streams while the replica fills it), a connect refusal moves on to the next
// backend but a response that has started is never retried elsewhere (a client must see an aborted body, not bytes of
// two replicas glued together), HTTP/1.1 keep-alive to the backends, long read timeouts. Its access log records which
// backend served each request: the ground truth for "spread over the replicas".
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertInstalled } from './installed-tools.js';
import { freePort } from './loopback-listener.js';

export interface LoadBalancerOptions {
  /** `host:port` of each HTTP backend, in rotation order. */
  backends: string[];
  /**
   * Also pass TLS through (nginx `stream`, no termination) to these `host:port`s, round-robin on its own port:
   * clients then see each replica's own certificate. Needs Debian's libnginx-mod-stream.
   */
  tlsBackends?: string[];
  /** Read each TLS ClientHello before connecting to a backend (`ssl_preread on`), as SNI routing must. */
  sslPreread?: boolean;
  /** How long a backend that refused a connection is left out of the rotation; default 1 s (replicas restart). */
  failTimeoutSeconds?: number;
}

export interface LoadBalancedRequest {
  method: string;
  uri: string;
  /** What the client got; 499 when the client left first. */
  status: number;
  /** Every backend nginx tried for this request, in order (`$upstream_addr`): a refused one, then the next. */
  tried: string[];
  /** The backend that answered: the last one tried; undefined when none was reached. */
  backend: string | undefined;
  bodyBytesSent: number;
}

export interface PassedThroughSession {
  /** The backend this TLS connection went to. */
  backend: string | undefined;
  bytesToClient: number;
}

export interface LoadBalancer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The TLS passthrough port, when `tlsBackends` were given. */
  tlsPort?: number;
  /** nginx's process (one, no master): its CPU time is what a bench compares. */
  pid: number;
  /**
   * Every request answered so far, from the access log. nginx logs a request once it has finished (a line a
   * moment after the client saw the end): this waits until the log stops growing.
   */
  requests(): Promise<LoadBalancedRequest[]>;
  /** Every finished TLS passthrough connection, likewise. */
  sessions(): Promise<PassedThroughSession[]>;
  /** nginx's own error output so far, for failure messages. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s), then the temp dir is removed; idempotent. */
  stop(): Promise<void>;
}

const streamModule = '/usr/lib/nginx/modules/ngx_stream_module.so';
const maxLogChars = 256 * 1024;
const startAttempts = 3;

const httpLogFormat =
  'escape=json \'{"method":"$request_method","uri":"$request_uri","status":"$status",' +
  '"upstream":"$upstream_addr","bytes":"$body_bytes_sent"}\'';
const streamLogFormat = 'escape=json \'{"upstream":"$upstream_addr","bytes":"$bytes_sent"}\'';

function config(dir: string, o: LoadBalancerOptions, port: number, tlsPort: number | undefined): string {
  const fail = `max_fails=1 fail_timeout=${o.failTimeoutSeconds ?? 1}s`;
  const servers = (list: string[]) => list.map((b) => `    server ${b} ${fail};`).join('\n');
  const stream =
    tlsPort === undefined
      ? ''
      : `stream {
  log_format sessions ${streamLogFormat};
  access_log ${dir}/sessions.log sessions;
  upstream replicas_tls {
${servers(o.tlsBackends ?? [])}
  }
  server {
    listen 127.0.0.1:${tlsPort};
${o.sslPreread ? '    ssl_preread on;\n' : ''}    proxy_pass replicas_tls;
    proxy_connect_timeout 5s;
    proxy_timeout 1h;
    # A refused connection goes to the next replica; once bytes flowed nothing is retried.
    proxy_next_upstream on;
  }
}
`;
  return `${tlsPort === undefined ? '' : `load_module ${streamModule};\n`}pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  log_format requests ${httpLogFormat};
  access_log ${dir}/access.log requests;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream replicas {
${servers(o.backends)}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://replicas;
      # Keep-alive to the replicas: HTTP/1.1 and no "Connection: close" passed on.
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Host routing (gcr.example.com -> gcr.io) needs the client's Host; the replicas log the client address.
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      # Stream: a blob goes to the client as the replica sends it, never spooled to nginx's disk first.
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
      # A refused or timed-out connect moves on; a started response is never retried (nginx cannot once bytes
      # went out, and non-idempotent requests are never retried at all).
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 0;
      proxy_connect_timeout 5s;
      # A cold blob's first byte can take as long as the upstream does; a slow client reads for a long time.
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
${stream}`;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Reads a log nginx appends to until it stops growing, then parses each JSON line. */
async function settledLines<T>(path: string, parse: (line: Record<string, string>) => T): Promise<T[]> {
  const read = () => readFile(path, 'utf8').catch(() => '');
  let text = await read();
  for (let i = 0; i < 20; i++) {
    await sleep(60);
    const later = await read();
    if (later.length === text.length) break;
    text = later;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => parse(JSON.parse(l) as Record<string, string>));
}

/** `$upstream_addr`: "a, b" for a retry, "a : b" across internal redirects, "" or "-" when none was reached. */
const addresses = (value: string | undefined): string[] =>
  (value ?? '')
    .split(/\s*[,:]\s+/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '-');

export async function startLoadBalancer(o: LoadBalancerOptions): Promise<LoadBalancer> {
  await assertInstalled('nginx', 'setpriv');
  if (o.backends.length === 0) throw new Error('a load balancer needs at least one backend');
  const tls = o.tlsBackends !== undefined && o.tlsBackends.length > 0;
  if (tls) {
    const present = await access(streamModule, constants.R_OK).then(() => true, () => false);
    if (!present) throw new Error(`nginx's stream module (${streamModule}) is missing; install with: apt-get install -y libnginx-mod-stream`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'pullgate-lb-'));
  await mkdir(join(dir, 'tmp'));
  let logs = '';
  let child: ChildProcess | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child && running(child)) {
        const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child?.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })());

  // nginx cannot listen on port 0 and tell: free ports are picked up front, and taken again if someone beat us.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const tlsPort = tls ? await freePort() : undefined;
    const confPath = join(dir, 'nginx.conf');
    logs = '';
    await writeFile(confPath, config(dir, o, port, tlsPort));
    const args = ['--pdeathsig', 'KILL', '--', 'nginx', '-p', dir, '-c', confPath, '-e', 'stderr', '-g', 'daemon off; master_process off;'];
    const started = spawn('/usr/bin/setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    const keep = (chunk: Buffer): void => {
      logs = (logs + chunk.toString('utf8')).slice(-maxLogChars);
    };
    started.stdout?.on('data', keep);
    started.stderr?.on('data', keep);
    const deadline = Date.now() + 10_000;
    let up = false;
    while (running(started) && Date.now() < deadline) {
      // nginx binds every listener before it serves any, so the HTTP port answering means the TLS one is up too
      // (probing that one would log a passthrough session of its own).
      if (await reachable(port)) {
        up = true;
        break;
      }
      await sleep(25);
    }
    if (up) {
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        pid: started.pid ?? 0,
        ...(tlsPort !== undefined ? { tlsPort } : {}),
        requests: () =>
          settledLines(join(dir, 'access.log'), (l) => {
            const tried = addresses(l['upstream']);
            return { method: l['method'] ?? '', uri: l['uri'] ?? '', status: Number(l['status']), tried, backend: tried.at(-1), bodyBytesSent: Number(l['bytes']) };
          }),
        sessions: () =>
          settledLines(join(dir, 'sessions.log'), (l) => ({ backend: addresses(l['upstream']).at(-1), bytesToClient: Number(l['bytes']) })),
        logs: () => logs,
        stop,
      };
    }
    const inUse = /Address already in use/.test(logs);
    if (running(started)) started.kill('SIGKILL');
    if (!inUse || attempt >= startAttempts) {
      await stop();
      throw new Error(`nginx (load balancer) did not start:\n${logs.slice(-4000)}`);
    }
  }
}
