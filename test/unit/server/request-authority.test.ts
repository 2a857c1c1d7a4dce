import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { parseAuthority, requestAuthority } from '../../../src/server/request-authority.js';

/** The parts of a request the accessor reads (RFC 9112 §3.2, RFC 9113 §8.3.1). */
function fakeRequest(httpVersion: string, headers: Record<string, string>, url = '/v2/', hosts?: string[]): IncomingMessage {
  const req = { httpVersion, headers, url, ...(httpVersion === '2.0' ? {} : { headersDistinct: { host: hosts ?? (headers.host ? [headers.host] : undefined) } }) };
  return req as unknown as IncomingMessage;
}

describe('parseAuthority', () => {
  const accepted: Array<[string, string, number | undefined]> = [
    ['gcr.mirror.test', 'gcr.mirror.test', undefined],
    ['GCR.Mirror.Test:5443', 'gcr.mirror.test', 5443],
    ['mirror.test.', 'mirror.test', undefined],
    ['127.0.0.1:5000', '127.0.0.1', 5000],
    ['[::1]:443', '[::1]', 443],
    ['[2001:DB8::1]', '[2001:db8::1]', undefined],
    ['localhost', 'localhost', undefined],
    ['my_registry:5000', 'my_registry', 5000],
  ];
  for (const [value, host, port] of accepted) {
    it(`reads ${value} as host ${host}${port ? ` and port ${port}` : ''}`, () => {
      const a = parseAuthority(value);
      assert.equal(a?.host, host);
      assert.equal(a?.port, port);
      assert.equal(a?.value, port ? `${host}:${port}` : host);
    });
  }

  for (const value of ['', 'evil.example@mirror.test', 'mirror.test/x', 'mirror.test:', 'mirror.test:0', 'mirror.test:65536', 'mirror.test:x', 'a..b', '-a.test', 'a-.test', '[zz::1]', '::1', '999.1.1.1', 'a b', 'mirror.test:80:80', `${'a'.repeat(64)}.test`, `${'a.'.repeat(130)}test`]) {
    it(`refuses ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`, () => assert.equal(parseAuthority(value), undefined));
  }
});

describe('requestAuthority', () => {
  it('HTTP/2 reads :authority', () => {
    assert.equal(requestAuthority(fakeRequest('2.0', { ':authority': 'pass.mirror.test:5443' })).authority?.value, 'pass.mirror.test:5443');
  });

  it('HTTP/2 without :authority falls back to Host, and may name none', () => {
    assert.equal(requestAuthority(fakeRequest('2.0', { host: 'a.test' })).authority?.host, 'a.test');
    const none = requestAuthority(fakeRequest('2.0', {}));
    assert.equal(none.authority, undefined);
    assert.equal(none.malformed, undefined);
  });

  it('HTTP/2 with a Host naming another entity than :authority is malformed', () => {
    assert.match(requestAuthority(fakeRequest('2.0', { ':authority': 'a.test', host: 'evil.example' })).malformed ?? '', /disagree/);
    assert.equal(requestAuthority(fakeRequest('2.0', { ':authority': 'a.test', host: 'A.test' })).malformed, undefined);
  });

  it("HTTP/2: the scheme's default port spelled out in :authority or Host names the same entity; another port does not", () => {
    const h2 = (scheme: string, authority: string, host: string) => requestAuthority(fakeRequest('2.0', { ':scheme': scheme, ':authority': authority, host }));
    assert.equal(h2('https', 'a.test', 'a.test:443').malformed, undefined);
    assert.equal(h2('https', 'a.test', 'a.test:443').authority?.value, 'a.test');
    assert.equal(h2('https', 'a.test:443', 'A.test').malformed, undefined);
    assert.equal(h2('http', 'a.test', 'a.test:80').malformed, undefined);
    assert.equal(h2('https', '[::1]', '[::1]:443').malformed, undefined);
    assert.match(h2('https', 'a.test', 'a.test:80').malformed ?? '', /disagree/);
    assert.match(h2('http', 'a.test', 'a.test:443').malformed ?? '', /disagree/);
    assert.match(h2('https', 'a.test', 'a.test:8443').malformed ?? '', /disagree/);
    assert.match(h2('https', 'a.test', 'b.test:443').malformed ?? '', /disagree/);
    assert.match(requestAuthority(fakeRequest('2.0', { ':authority': 'a.test', host: 'a.test:443' })).malformed ?? '', /disagree/, 'no scheme: no default port');
  });

  it('HTTP/1.1 reads Host, needs exactly one, and HTTP/1.0 may send none', () => {
    assert.equal(requestAuthority(fakeRequest('1.1', { host: 'gcr.mirror.test' })).authority?.host, 'gcr.mirror.test');
    assert.match(requestAuthority(fakeRequest('1.1', {})).malformed ?? '', /needs a Host/);
    assert.match(requestAuthority(fakeRequest('1.1', { host: 'a.test' }, '/v2/', ['a.test', 'b.test'])).malformed ?? '', /more than one/);
    assert.deepEqual(requestAuthority(fakeRequest('1.0', {})), { authority: undefined, httpVersion: '1.0' });
    // RFC 9112 §3.2: an empty Host names no authority; it is not malformed.
    assert.deepEqual(requestAuthority(fakeRequest('1.1', { host: '' }, '/v2/', [''])), { authority: undefined, httpVersion: '1.1' });
  });

  it('an absolute-form target names the authority, whatever Host says', () => {
    assert.equal(requestAuthority(fakeRequest('1.1', { host: 'evil.example' }, 'http://gcr.mirror.test:5000/v2/')).authority?.value, 'gcr.mirror.test:5000');
    assert.ok(requestAuthority(fakeRequest('1.1', { host: 'a.test' }, 'http://user@a.test/v2/')).malformed);
  });

  it('a malformed Host is reported, not passed on', () => {
    const r = requestAuthority(fakeRequest('1.1', { host: 'evil.example@a.test' }));
    assert.equal(r.authority, undefined);
    assert.match(r.malformed ?? '', /malformed Host/);
  });

  it('parses once per request', () => {
    const req = fakeRequest('1.1', { host: 'a.test' });
    const first = requestAuthority(req);
    (req.headers as Record<string, string>).host = 'b.test';
    assert.equal(requestAuthority(req), first);
  });
});
