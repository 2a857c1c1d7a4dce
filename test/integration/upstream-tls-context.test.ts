// The upstream's TLS trust (src/upstream/dispatcher.ts upstreamTls): with a CA bundle, the system roots and the bundle
// are parsed once into one secure context that every connection shares (docs/operating.md, "Direct reads of blob
// bodies"), and that context verifies the upstream as the bundle given per connection did.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { UpstreamConfig } from '../../src/config/config.js';
import { createDispatcher, upstreamTls } from '../../src/upstream/dispatcher.js';
import { directGet, type DirectGetOptions } from '../../src/upstream/direct/direct-get.js';
import { startConnectProxy } from '../support/connect-proxy.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { answer, startScriptedServer, type ScriptedServer } from '../support/scripted-http-server.js';

describe('upstream TLS trust from a CA bundle', () => {
  let dir: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let server: ScriptedServer;
  /** Signed by the same CA, for another name only. */
  let otherName: ScriptedServer;
  let caFile: string;
  let otherCaFile: string;
  const blob = randomBytes(100_000);
  const get = (connect: DirectGetOptions['connect'], port = server.port) =>
    directGet({ url: new URL(`https://localhost:${port}/blob`), headers: {}, connect, timeouts: { connect: 2000, headers: 2000, idle: 2000 } });
  const viaUndici = async (upstream: Pick<UpstreamConfig, 'ca' | 'insecureSkipVerify' | 'proxy'>, port = server.port): Promise<Buffer> => {
    const dispatcher = createDispatcher({ ...upstream, url: `https://localhost:${port}` } as unknown as UpstreamConfig, { connect: 2000, headers: 2000, idle: 2000 });
    try {
      const res = await request(`https://localhost:${port}/blob`, { dispatcher });
      return Buffer.from(await res.body.arrayBuffer());
    } finally {
      await dispatcher.close();
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-tls-context-'));
    ca = await createTestCa(join(dir, 'a'));
    otherCa = await createTestCa(join(dir, 'b'));
    caFile = join(dir, 'a.pem');
    otherCaFile = join(dir, 'b.pem');
    await writeFile(caFile, ca.caCertPem);
    await writeFile(otherCaFile, otherCa.caCertPem);
    const cert = await ca.issue('localhost', ['localhost'], ['127.0.0.1']);
    server = await startScriptedServer({ tls: { cert: cert.certPem, key: cert.keyPem } }, ({ socket }) => answer(socket, 200, blob));
    const other = await ca.issue('other.test', ['other.test']);
    otherName = await startScriptedServer({ tls: { cert: other.certPem, key: other.keyPem } }, ({ socket }) => answer(socket, 200, blob));
  });
  after(async () => {
    await server.close();
    await otherName.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('every connection with the same bundle shares one secure context; another bundle gets its own', () => {
    const first = upstreamTls({ ca: caFile, insecureSkipVerify: false });
    const again = upstreamTls({ ca: caFile, insecureSkipVerify: false });
    const other = upstreamTls({ ca: otherCaFile, insecureSkipVerify: false });
    assert.ok(first.secureContext);
    assert.equal(again.secureContext, first.secureContext);
    assert.notEqual(other.secureContext, first.secureContext);
    assert.equal(first.rejectUnauthorized, true);
  });

  test('the shared context trusts the bundle: a direct GET to an upstream it signed reads the body', async () => {
    const answer = await get(upstreamTls({ ca: caFile, insecureSkipVerify: false }));
    assert.equal(answer.kind, 'response');
    if (answer.kind !== 'response') return;
    const chunks: Buffer[] = [];
    for await (const chunk of answer.body) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks), blob);
  });

  test('a context of another bundle still refuses that upstream', async () => {
    await assert.rejects(get(upstreamTls({ ca: otherCaFile, insecureSkipVerify: false })), /self[- ]signed|unable to (get|verify)|certificate/i);
  });

  test('the shared context still checks each connection\'s host name: the same CA\'s certificate for another name is refused', async () => {
    const tls = upstreamTls({ ca: caFile, insecureSkipVerify: false });
    await get(tls).then((a) => (a.kind === 'response' ? a.body.resume() : undefined));
    await assert.rejects(get(tls, otherName.port), /altnames|hostname|does not match/i);
    await assert.rejects(viaUndici({ ca: caFile, insecureSkipVerify: false }, otherName.port), /altnames|hostname|does not match/i);
  });

  test('an upstream without a bundle does not trust another upstream\'s bundle', async () => {
    upstreamTls({ ca: caFile, insecureSkipVerify: false });
    await assert.rejects(get(upstreamTls({ insecureSkipVerify: false })), /self[- ]signed|unable to (get|verify)|certificate/i);
    await assert.rejects(viaUndici({ insecureSkipVerify: false }), /self[- ]signed|unable to (get|verify)|certificate/i);
  });

  test('undici\'s connections get the same trust: the bundle\'s upstream is read, another bundle refuses it', async () => {
    assert.deepEqual(await viaUndici({ ca: caFile, insecureSkipVerify: false }), blob);
    await assert.rejects(viaUndici({ ca: otherCaFile, insecureSkipVerify: false }), /self[- ]signed|unable to (get|verify)|certificate/i);
  });

  test('insecureSkipVerify still turns verification off per upstream, the shared context notwithstanding', async () => {
    const answered = await get(upstreamTls({ ca: otherCaFile, insecureSkipVerify: true }), otherName.port);
    assert.equal(answered.kind, 'response');
    if (answered.kind === 'response') answered.body.resume();
    assert.deepEqual(await viaUndici({ ca: otherCaFile, insecureSkipVerify: true }, otherName.port), blob);
  });

  test('through a proxy, the tunnelled connection gets the same trust: the bundle\'s upstream is read, another bundle refuses it', async () => {
    const proxy = await startConnectProxy();
    try {
      assert.deepEqual(await viaUndici({ ca: caFile, insecureSkipVerify: false, proxy: proxy.url }), blob);
      await assert.rejects(viaUndici({ ca: otherCaFile, insecureSkipVerify: false, proxy: proxy.url }), /self[- ]signed|unable to (get|verify)|certificate/i);
      await assert.rejects(viaUndici({ ca: caFile, insecureSkipVerify: false, proxy: proxy.url }, otherName.port), /altnames|hostname|does not match/i);
      assert.equal(proxy.seen.filter((s) => s.startsWith('CONNECT ')).length, 3, 'every request went through the proxy');
    } finally {
      await proxy.close();
    }
  });

  test('a bundle file changed in place (a reload, an admin edit) is trusted as it is now: the old CA no longer', async () => {
    const changing = join(dir, 'changing.pem');
    await writeFile(changing, ca.caCertPem);
    const before = upstreamTls({ ca: changing, insecureSkipVerify: false });
    await get(before).then((a) => (a.kind === 'response' ? a.body.resume() : undefined));
    await writeFile(changing, otherCa.caCertPem);
    const now = upstreamTls({ ca: changing, insecureSkipVerify: false });
    assert.notEqual(now.secureContext, before.secureContext);
    await assert.rejects(get(now), /self[- ]signed|unable to (get|verify)|certificate/i);
    await assert.rejects(viaUndici({ ca: changing, insecureSkipVerify: false }), /self[- ]signed|unable to (get|verify)|certificate/i);
  });
});
