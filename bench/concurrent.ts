// N concurrent cold pulls of one blob, each a curl process. One bash process starts them all at once: spawning
// them one by one from this process would stall its event loop for hundreds of milliseconds, and the bench's CDN
// runs in this process, so every server's cold first byte would wait for the spawns. Each body goes through a pipe
// whose first byte stamps the time (first *body* byte, not the response headers); client 0 also pipes it through
// sha256sum, the others discard it.
import { spawn } from 'node:child_process';
import type { LargeBlob } from '../test/support/large-blob.js';
import { TransferError } from './light-client.js';
import { childrenCpuSeconds } from './proc-stats.js';

export interface ClientResult {
  /** From the common start to the first body byte / to the end, ms. */
  ttfbMs: number;
  wallMs: number;
  bytes: number;
}

export interface ConcurrentPulls {
  clients: ClientResult[];
  /** From the common start until the last client finished, ms. */
  totalMs: number;
  /** CPU-seconds of all the client processes (bash, curl, dd, cat, sha256sum). */
  clientCpu: number;
}

// Per client, on stderr: `F i <epoch>` first body byte, `R i <status> <bytes>` from curl, `H i <sha256>` (client 0),
// `E i <exit> <epoch>` at its end. Each line is one small write, so the clients' lines never interleave.
const launcher = `
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pull() {
  local i=$1 url=$2 code sum
  set -o pipefail
  # curl writes its -w text in several pieces: to a file of its own, echoed in one line at the end.
  fetch() {
    curl -sS --http1.1 --cacert "$CA" --max-time "$MAXTIME" -w "%{stderr}%{http_code} %{size_download}" "$url" 2> "$dir/$i" |
      { dd bs=1 count=1 status=none; date "+F $i %s.%N" >&2; cat; }
  }
  if [ "$i" = 0 ]; then
    sum=$(fetch | sha256sum); code=$?
    echo "H $i \${sum%% *}" >&2
  else
    fetch > /dev/null; code=$?
  fi
  echo "R $i $(tr '\\n' ' ' < "$dir/$i")" >&2
  echo "E $i $code $(date +%s.%N)" >&2
}
i=0
for url in "$@"; do pull "$i" "$url" & i=$((i + 1)); done
wait
`;

function parse(err: string, n: number, blob: LargeBlob, startEpochMs: number): ClientResult[] {
  const lines = err.split('\n');
  const field = (kind: string, i: number): string[] | undefined =>
    lines.find((l) => l.startsWith(`${kind} ${i} `))?.split(' ').slice(2);
  return Array.from({ length: n }, (_, i) => {
    const [first] = field('F', i) ?? [];
    const [status, size] = field('R', i) ?? [];
    const [exit, end] = field('E', i) ?? [];
    const fail = (why: string): never => {
      throw new TransferError(`concurrent client ${i}: ${why}; ${lines.filter((l) => !/^[FRHE] \d+ /.test(l)).join(' ').slice(0, 300)}`);
    };
    if (exit !== '0' || first === undefined || end === undefined) fail(`curl failed (exit ${exit ?? '?'})`);
    if (Number(status) !== 200) fail(`HTTP ${status ?? '?'}`);
    if (Number(size) !== blob.size) fail(`got ${size ?? '?'} bytes, expected ${blob.size}`);
    if (i === 0 && `sha256:${field('H', 0)?.[0] ?? ''}` !== blob.digest) fail('digest mismatch');
    return { ttfbMs: Number(first) * 1000 - startEpochMs, wallMs: Number(end) * 1000 - startEpochMs, bytes: Number(size) };
  });
}

/** `clients` curl pulls started together, client i from `url` (or `url[i % n]`: replicas); client 0 verifies the sha256. */
export async function concurrentPulls(url: string | string[], blob: LargeBlob, o: { clients: number; caFile: string; timeoutMs: number }): Promise<ConcurrentPulls> {
  const urls = Array.isArray(url) ? url : [url];
  const cpu0 = await childrenCpuSeconds();
  const startEpochMs = Date.now();
  const env = { ...process.env, CA: o.caFile, MAXTIME: String(Math.ceil(o.timeoutMs / 1000)) };
  const args = Array.from({ length: o.clients }, (_, i) => urls[i % urls.length]!);
  const err = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', launcher, 'pulls', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (text += t));
    child.once('error', reject);
    child.once('close', () => resolve(text));
  });
  const totalMs = Date.now() - startEpochMs;
  const clients = parse(err, o.clients, blob, startEpochMs);
  return { clients, totalMs, clientCpu: (await childrenCpuSeconds()) - cpu0 };
}
