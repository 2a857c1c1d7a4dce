// Assertions shared by the real-client e2e tests: what the mirror logged, what the CDN served, what the real
// registry saw. Each names the evidence it looked at when it fails.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Descriptor } from './oci-layout.js';
import type { AccessLine } from './pull-through-setup.js';
import { sha256File } from './pull-through-setup.js';
import type { RealRegistry } from './real-registry.js';

const show = (lines: readonly AccessLine[]): string =>
  lines.map((l) => `${l.method} ${l.host ?? ''}${l.url} -> ${l.status} (${l.upstream ?? '-'}: ${l.repository ?? '-'})`).join('\n');

/** The first access line that has every given field value. */
export function findAccessLine(lines: readonly AccessLine[], want: Partial<AccessLine>): AccessLine {
  const found = lines.find((l) => Object.entries(want).every(([k, v]) => l[k as keyof AccessLine] === v));
  assert.ok(found, `no mirror access line matches ${JSON.stringify(want)}; lines:\n${show(lines)}`);
  return found;
}

/** A successful GET of every layer through the mirror, with the expected upstream and repository. */
export function assertLayersPassedMirror(lines: readonly AccessLine[], layers: readonly Descriptor[], upstream: string, repository: string): void {
  for (const layer of layers) {
    const line = lines.find((l) => l.method === 'GET' && l.url.includes(`/blobs/${layer.digest}`) && l.status === 200);
    assert.ok(line, `the mirror logged no successful GET of layer ${layer.digest}; lines:\n${show(lines)}`);
    assert.equal(line.upstream, upstream);
    assert.equal(line.repository, repository);
    assert.equal(line.bytes, layer.size, `bytes sent for ${layer.digest}`);
  }
}

/**
 * The CDN (ground truth for upstream bytes) served each layer completely, to the mirror (its user agent), and no
 * request to it carried Authorization. Call `reg.cdn.reset()` before the pull.
 */
export function assertCdnServedLayersToMirror(reg: RealRegistry, layers: readonly Descriptor[]): void {
  const requests = reg.cdn.requests;
  for (const layer of layers) {
    const gets = requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/${layer.digest.slice(7)}/data`));
    // One fill: one GET of the whole blob; a large one also has Range requests for its other segments
    // (docs/segmented-fills.md), which together reach the last byte, each asked once.
    const whole = gets.filter((r) => r.range === undefined);
    assert.equal(whole.length, 1, `the CDN got ${whole.length} GETs of the whole ${layer.digest}, expected one fill`);
    assert.equal(whole[0]?.status, 200);
    const ranges = gets.filter((r) => r.range !== undefined);
    if (ranges.length === 0) {
      assert.ok(whole[0]?.completed, `the CDN never completed the GET of ${layer.digest}`);
      assert.equal(whole[0]?.bytesSent, layer.size);
      continue;
    }
    const spans = ranges.map((r) => {
      assert.equal(r.status, 206, `a segment of ${layer.digest} was not answered 206`);
      const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
      assert.ok(m, `not a closed range: ${String(r.range)}`);
      return [Number(m[1]), Number(m[2])] as const;
    }).sort((a, b) => a[0] - b[0]);
    assert.equal(new Set(spans.map(([a, b]) => `${a}-${b}`)).size, spans.length, `a segment of ${layer.digest} was fetched twice`);
    assert.equal(spans.at(-1)?.[1], layer.size - 1, `the segments of ${layer.digest} do not reach its last byte`);
  }
  for (const r of requests) {
    assert.equal(r.hasAuthorization, false, `Authorization reached the CDN on ${r.method} ${r.path}`);
    assert.match(String(r.headers['user-agent']), /^pullgate/, `a CDN request did not come from the mirror: ${r.method} ${r.path}`);
  }
}

/** The CDN served none of these layers (e.g. another platform's). */
export function assertCdnNeverServed(reg: RealRegistry, layers: readonly Descriptor[]): void {
  for (const layer of layers) {
    const hits = reg.cdn.requests.filter((r) => r.path.endsWith(`/${layer.digest.slice(7)}/data`));
    assert.equal(hits.length, 0, `the CDN was asked for ${layer.digest}, which this pull must not fetch`);
  }
}

export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
  userAgent: string;
}

/** docker-registry's access log lines (combined log format) from character offset `from` of its logs. */
export function registryRequests(reg: RealRegistry, from = 0): RegistryRequest[] {
  const out: RegistryRequest[] = [];
  const pattern = /"(GET|HEAD) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/g;
  for (const m of reg.logs().slice(from).matchAll(pattern)) {
    out.push({ method: m[1] ?? '', path: m[2] ?? '', status: Number(m[3]), userAgent: m[4] ?? '' });
  }
  return out;
}

/** The real registry answered `path` to the mirror (its user agent) with `status`. */
export function assertRegistrySawMirror(reg: RealRegistry, from: number, path: string, status = 200): void {
  const seen = registryRequests(reg, from);
  const hit = seen.find((r) => r.path === path && r.status === status && r.userAgent.startsWith('pullgate'));
  const shown = seen.map((r) => `${r.method} ${r.path} ${r.status} ${r.userAgent}`).join('\n');
  assert.ok(hit, `the real registry never answered ${status} to the mirror for ${path}; it saw:\n${shown}`);
}

/** Every layer of `layers` is a file named by its hex digest under `dir` and hashes to that digest. */
export async function assertLayerFiles(dir: string, layers: readonly Descriptor[]): Promise<void> {
  for (const layer of layers) assert.equal(await sha256File(join(dir, layer.digest.slice(7))), layer.digest);
}

/** No password, Basic credential, bearer token or JWT of any client or upstream appears in the mirror's log. */
export function assertLogsHoldNoSecrets(logs: readonly string[], credentials: { user: string; password: string }[]): void {
  assert.ok(logs.length > 0, 'the mirror logged nothing');
  const all = logs.join('\n');
  for (const { user, password } of credentials) {
    assert.ok(!all.includes(password), `the mirror logged the password of ${user}`);
    assert.ok(!all.includes(Buffer.from(`${user}:${password}`).toString('base64')), `the mirror logged Basic credentials of ${user}`);
  }
  assert.doesNotMatch(all, /Bearer\s+(?!realm=)[A-Za-z0-9._~+/=-]{8,}/i, 'the mirror logged a bearer token');
  assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/, 'the mirror logged a JWT');
}
