// The replicas' internal endpoint on a real socket: a signature is good for one request to one replica, for a few
// seconds, once; a path that cannot be decoded is a 400, and the endpoint keeps answering afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { request } from 'undici';
import { PeerAuth, peerAuthHeader, peerSignatureMaxAgeMs } from '../../../src/cluster/peer-auth.js';
import { PeerServer } from '../../../src/cluster/peer-server.js';

const secret = 's'.repeat(64);
const digest = `sha256:${'a'.repeat(64)}`;

describe('the internal endpoint', () => {
  let server: PeerServer;
  let self = '';
  let now = 1_800_000_000_000;
  const clock = () => now;
  before(async () => {
    // The replica learns its own address only once listening: the signatures name it, so the auth is built after.
    let auth: PeerAuth | undefined;
    server = new PeerServer({ fills: { get: () => undefined }, auth: { verify: (...a) => auth!.verify(...a) } as PeerAuth, log: pino({ level: 'silent' }) });
    const bound = await server.listen('127.0.0.1:0');
    self = `http://127.0.0.1:${bound.port}`;
    auth = new PeerAuth(secret, self, clock);
  });
  after(() => server.close());

  const ask = async (path: string, header?: string) => {
    const res = await request(`${self}${path}`, { headers: header === undefined ? {} : { [peerAuthHeader]: header } });
    const body = await res.body.text();
    return { status: res.statusCode, code: (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code };
  };
  const signer = (at = clock) => new PeerAuth(secret, 'http://signer.invalid', at);

  it('a request signed for this replica is answered (404: no such fill in flight here)', async () => {
    assert.deepEqual(await ask(`/fills/${digest}`, signer().sign('GET', `/fills/${digest}`, self)), { status: 404, code: 'FILL_NOT_RUNNING' });
  });

  it('no signature, or one under another secret, is refused', async () => {
    assert.equal((await ask(`/fills/${digest}`)).status, 401);
    const other = new PeerAuth('o'.repeat(64), 'http://x.invalid', clock);
    assert.deepEqual(await ask(`/fills/${digest}`, other.sign('GET', `/fills/${digest}`, self)), { status: 401, code: 'PEER_UNAUTHORIZED' });
  });

  it('a signature made for another replica is refused here', async () => {
    const forOther = signer().sign('GET', `/fills/${digest}`, 'http://10.0.0.9:5002');
    assert.deepEqual(await ask(`/fills/${digest}`, forOther), { status: 401, code: 'PEER_UNAUTHORIZED' });
  });

  it('a signature expires within seconds, and one from the future is refused too', async () => {
    assert.ok(peerSignatureMaxAgeMs <= 15_000, `signatures live ${peerSignatureMaxAgeMs} ms`);
    const old = signer(() => now - peerSignatureMaxAgeMs - 1).sign('GET', `/fills/${digest}`, self);
    assert.equal((await ask(`/fills/${digest}`, old)).status, 401);
    const ahead = signer(() => now + peerSignatureMaxAgeMs + 1).sign('GET', `/fills/${digest}`, self);
    assert.equal((await ask(`/fills/${digest}`, ahead)).status, 401);
    const recent = signer(() => now - peerSignatureMaxAgeMs + 1000).sign('GET', `/fills/${digest}`, self);
    assert.equal((await ask(`/fills/${digest}`, recent)).status, 404);
  });

  it('a signature is good for one request: a replay is refused', async () => {
    const header = signer().sign('GET', `/fills/${digest}`, self);
    assert.equal((await ask(`/fills/${digest}`, header)).status, 404);
    assert.deepEqual(await ask(`/fills/${digest}`, header), { status: 401, code: 'PEER_UNAUTHORIZED' });
  });

  it('a signed path that cannot be percent-decoded, or a digest that is not one, is a 400, and the endpoint answers the next request', async () => {
    for (const path of ['/fills/%E0', '/fills/%', '/fills/sha256%3A%ZZ', `/fills/sha256:${'0'.repeat(64)}_`, `/fills/md5:${'0'.repeat(32)}`]) {
      assert.deepEqual(await ask(path, signer().sign('GET', path, self)), { status: 400, code: 'PEER_BAD_REQUEST' }, path);
    }
    assert.equal((await ask(`/fills/${digest}`, signer().sign('GET', `/fills/${digest}`, self))).status, 404);
    now += 1; // the clock moves on; nothing else changes
  });
});
