// The third peer: Debian's nginx with proxy_cache in front of the same upstream, keyed by the blob digest,
// following the registry's 307 to the CDN through a named location. One process (master_process off), so its
// CPU is that one pid's; or a master and `worker_processes` workers (the bench sums the process tree). No token dance: it is only run against an upstream without auth.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort } from '../test/support/loopback-listener.js';
import type { IssuedCert } from '../test/support/pki.js';
import type { RealRegistry } from '../test/support/real-registry.js';
import { spawnChild } from './child.js';
import type { Server } from './peers.js';

export interface NginxOptions {
  /** A fresh directory: prefix, config, cache, temp files. */
  dir: string;
  reg: RealRegistry;
  cert: IssuedCert;
  /** `worker_processes` under a master process; absent: one process (`master_process off`). */
  workers?: number;
}

function conf(o: NginxOptions, port: number): string {
  const d = o.dir;
  // Both hops of a blob (the registry and its CDN redirect) fill the same cache entry, keyed by digest.
  const blobCache = 'proxy_cache reg; proxy_cache_key $blob_digest; proxy_cache_valid 200 1h; ' +
    'proxy_cache_lock on; proxy_cache_lock_timeout 600s; proxy_cache_lock_age 600s;';
  const upstreamTls = `proxy_ssl_trusted_certificate ${o.reg.caFile};\n      proxy_ssl_verify on;\n      proxy_ssl_server_name on;`;
  // Workers run as root like the master (the bench's files are root's); a listener per worker (reuseport), as a
  // multi-core nginx is tuned, so the kernel spreads connections over the workers.
  const multi = o.workers !== undefined;
  return `pid ${d}/nginx.pid;
error_log stderr warn;
${multi ? `user root;\nworker_processes ${o.workers};` : ''}
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${d}/tmp/body;
  proxy_temp_path ${d}/tmp/proxy;
  fastcgi_temp_path ${d}/tmp/fcgi;
  uwsgi_temp_path ${d}/tmp/uwsgi;
  scgi_temp_path ${d}/tmp/scgi;
  proxy_cache_path ${d}/cache levels=1:2 keys_zone=reg:10m max_size=50g inactive=1h use_temp_path=off;
  # The cache key: the digest of a blob URL; manifests by URL and Accept.
  map $uri $blob_digest { "~/blobs/(?<d>sha256:[0-9a-f]{64})$" $d; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffering on;
  sendfile on;
  server {
    listen 127.0.0.1:${port} ssl${multi ? ' reuseport' : ''};
    ssl_certificate ${o.cert.certPath};
    ssl_certificate_key ${o.cert.keyPath};
    keepalive_requests 100000;
    location ~ "/blobs/sha256:[0-9a-f]{64}$" {
      proxy_pass ${o.reg.url};
      proxy_ssl_name localhost;
      ${upstreamTls}
      ${blobCache}
      proxy_intercept_errors on;
      error_page 307 = @cdn;
    }
    location @cdn {
      # Saved first: proxy_pass starts a new upstream, which empties $upstream_http_location.
      set $cdn_location $upstream_http_location;
      proxy_pass $cdn_location;
      proxy_ssl_name cdn.pullgate.test;
      ${upstreamTls}
      ${blobCache}
    }
    location ~ /manifests/ {
      proxy_pass ${o.reg.url};
      proxy_ssl_name localhost;
      ${upstreamTls}
      proxy_cache reg;
      proxy_cache_key $uri$http_accept;
      proxy_cache_valid 200 5m;
      proxy_cache_lock on;
    }
    location / {
      proxy_pass ${o.reg.url};
      proxy_ssl_name localhost;
      ${upstreamTls}
    }
  }
}
`;
}

/** `nginx -p DIR -c DIR/nginx.conf -e stderr -g 'daemon off; master_process off;'` on a free port (`on` with workers). */
export async function startNginx(o: NginxOptions): Promise<Server> {
  for (const sub of ['tmp', 'cache']) await mkdir(join(o.dir, sub), { recursive: true });
  const port = await freePort('127.0.0.1');
  const configPath = join(o.dir, 'nginx.conf');
  await writeFile(configPath, conf(o, port));
  const child = spawnChild({
    name: 'nginx proxy_cache',
    command: 'nginx',
    args: ['-p', o.dir, '-c', configPath, '-e', 'stderr', '-g', `daemon off; master_process ${o.workers === undefined ? 'off' : 'on'};`],
  });
  const url = `https://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca: o.reg.ca.caCertPem } });
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exited() || Date.now() > deadline) throw new Error(`nginx did not start\n${child.output()}`);
      const ok = await request(`${url}/v2/`, { dispatcher: agent }).then(async (r) => (await r.body.dump(), true), () => false);
      if (ok) return { child, url };
      await sleep(50);
    }
  } catch (err) {
    await child.stop(1_000);
    throw err;
  } finally {
    await agent.close();
  }
}
