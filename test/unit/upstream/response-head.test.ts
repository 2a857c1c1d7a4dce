import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxHeadBytes, parseResponseHead, type HeadParse } from '../../../src/upstream/direct/response-head.js';

const parse = (text: string): HeadParse => parseResponseHead(Buffer.from(text, 'latin1'));
const refused = (text: string, reason: RegExp): void => {
  const r = parse(text);
  assert.equal(r.kind, 'error', `${JSON.stringify(text)} must be refused, got ${r.kind}`);
  if (r.kind === 'error') {
    assert.match(r.error.message, reason);
    assert.equal(r.error.code, 'PULLGATE_BAD_RESPONSE_HEAD');
  }
};

describe('response head: well-formed', () => {
  it('a 200 with Content-Length gives status, lower-case headers, the body offset and length', () => {
    const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:  a b \r\n\r\nhello';
    const r = parse(text);
    assert.equal(r.kind, 'head');
    if (r.kind !== 'head') return;
    assert.equal(r.head.status, 200);
    assert.deepEqual(r.head.headers, { 'content-length': '5', 'x-thing': 'a b' });
    assert.equal(r.head.bodyStart, text.length - 5);
    assert.equal(r.length, 5);
  });

  it('HTTP/1.0, a missing or empty reason phrase are accepted', () => {
    for (const line of ['HTTP/1.0 200 OK', 'HTTP/1.1 200', 'HTTP/1.1 200 ', 'HTTP/1.1 404 Not  Found']) {
      assert.equal(parse(`${line}\r\nContent-Length: 0\r\n\r\n`).kind, 'head', line);
    }
  });

  it('needs more until the blank line arrives', () => {
    assert.equal(parse('').kind, 'needs-more');
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n').kind, 'needs-more');
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r').kind, 'needs-more');
  });

  it('repeated headers are arrays, set-cookie always is, repeated identical Content-Lengths are one value', () => {
    const r = parse('HTTP/1.1 200 OK\r\nVia: a\r\nvia: b\r\nSet-Cookie: x=1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n');
    assert.equal(r.kind, 'head');
    if (r.kind !== 'head') return;
    assert.deepEqual(r.head.headers.via, ['a', 'b']);
    assert.deepEqual(r.head.headers['set-cookie'], ['x=1']);
    assert.equal(r.head.headers['content-length'], '3');
    assert.equal(r.length, 3);
  });

  it('204 and 304 have no body whatever they announce', () => {
    for (const status of [204, 304]) {
      const r = parse(`HTTP/1.1 ${status} X\r\nContent-Length: 99\r\n\r\n`);
      assert.ok(r.kind === 'head' && r.length === 0, String(status));
    }
  });

  it('a Content-Length up to 2^53 - 1 is accepted, leading zeros are decimal', () => {
    const r = parse(`HTTP/1.1 200 OK\r\nContent-Length: ${Number.MAX_SAFE_INTEGER}\r\n\r\n`);
    assert.ok(r.kind === 'head' && r.length === Number.MAX_SAFE_INTEGER);
    const z = parse('HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n');
    assert.ok(z.kind === 'head' && z.length === 7);
  });
});

describe('response head: not framed here (undici reads it)', () => {
  it('Transfer-Encoding alone is not directly readable', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    assert.ok(r.kind === 'not-direct' && /Transfer-Encoding/.test(r.reason));
  });

  it('no Content-Length (a body until close) is not directly readable', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\n\r\nabc').kind, 'not-direct');
  });
});

describe('response head: hostile shapes are refused', () => {
  const ok = 'HTTP/1.1 200 OK\r\n';
  it('Content-Length with Transfer-Encoding (either order)', () => {
    refused(`${ok}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`, /both/);
    refused(`${ok}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`, /both/);
  });
  it('two differing Content-Lengths', () => refused(`${ok}Content-Length: 5\r\nContent-Length: 6\r\n\r\n`, /differ/));
  it('a Content-Length list, negative, with a sign, with spaces inside, hex, empty', () => {
    for (const v of ['1,2', '5, 5', '-1', '+5', '1 2', '0x10', '', '5.0', '1e3']) refused(`${ok}Content-Length: ${v}\r\n\r\n`, /not a decimal/);
  });
  it('a Content-Length of 2^53 or beyond', () => {
    refused(`${ok}Content-Length: 9007199254740992\r\n\r\n`, /too large/);
    refused(`${ok}Content-Length: ${'9'.repeat(400)}\r\n\r\n`, /too large/);
  });
  it('whitespace before the colon, an empty name, a name with non-token characters', () => {
    refused(`${ok}Content-Length : 5\r\n\r\n`, /invalid header name/);
    refused(`${ok}: 5\r\n\r\n`, /without a name/);
    refused(`${ok}X(y): 5\r\n\r\n`, /invalid header name/);
    refused(`${ok}no colon here\r\n\r\n`, /invalid header name|without a name/);
  });
  it('obs-fold', () => refused(`${ok}X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n`, /obs-fold/));
  it('header injection: NUL, bare CR, bare LF inside a value', () => {
    refused(`${ok}X-A: a\0b\r\nContent-Length: 0\r\n\r\n`, /control character/);
    refused(`${ok}X-A: a\rContent-Length: 9\r\nContent-Length: 0\r\n\r\n`, /bare CR/);
    refused(`${ok}X-A: a\nContent-Length: 9\r\nContent-Length: 0\r\n\r\n`, /bare LF/);
    refused(`${ok}X-A: a\x01b\r\nContent-Length: 0\r\n\r\n`, /control character/);
  });
  it('bare LF line endings, refused before the head is complete', () => {
    refused('HTTP/1.1 200 OK\nContent-Length: 0\n\n', /bare LF/);
    refused('HTTP/1.1 200 OK\n', /bare LF/);
  });
  it('a bare CR line ending', () => refused('HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n', /bare CR/));
  it('1xx, out-of-range and malformed statuses', () => {
    refused('HTTP/1.1 100 Continue\r\n\r\n', /status 100/);
    refused('HTTP/1.1 101 Switching Protocols\r\n\r\n', /status 101/);
    refused('HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n', /status 600/);
    for (const line of ['HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/2 200 OK', 'HTTP/1.1  200 OK', 'http/1.1 200 OK', 'ICY 200 OK', 'HTTP/1.1 200\tOK']) {
      refused(`${line}\r\nContent-Length: 0\r\n\r\n`, /malformed status line/);
    }
  });
  it('a head beyond 64 KiB, complete or not', () => {
    const filler = `X-F: ${'a'.repeat(1000)}\r\n`.repeat(70);
    refused(`${ok}${filler}`, /larger than/);
    refused(`${ok}${filler}Content-Length: 0\r\n\r\n`, /larger than/);
    assert.ok(Buffer.byteLength(`${ok}${filler}`) > maxHeadBytes);
  });
  it('more than 100 header lines', () => {
    refused(`${ok}${'X-A: 1\r\n'.repeat(100)}Content-Length: 0\r\n\r\n`, /more than 100/);
    assert.equal(parse(`${ok}${'X-A: 1\r\n'.repeat(99)}Content-Length: 0\r\n\r\n`).kind, 'head');
  });
  it('body bytes after the head may hold anything', () => {
    assert.equal(parse(`${ok}Content-Length: 4\r\n\r\n\n\r\0x`).kind, 'head');
  });
});

describe('response head: informational answers before the final one', () => {
  it('a 103 Early Hints (or a 102) before the 200 is skipped, as undici does; the body starts after the final head', () => {
    const text = 'HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const r = parse(text);
    assert.equal(r.kind, 'head');
    if (r.kind !== 'head') return;
    assert.equal(r.head.status, 200);
    assert.deepEqual(r.head.headers, { 'content-length': '2' });
    assert.equal(r.head.bodyStart, text.length - 2);
  });

  it('needs more while only informational heads have arrived', () => {
    assert.equal(parse('HTTP/1.1 103 Early Hints\r\n\r\n').kind, 'needs-more');
    assert.equal(parse('HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n').kind, 'needs-more');
  });

  it('100 Continue (never asked for) and 101 are refused, as undici does; a malformed informational head too', () => {
    refused('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', /status 100/);
    refused('HTTP/1.1 101 Switching\r\n\r\n', /status 101/);
    refused('HTTP/1.1 103 X\r\nbad line\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', /header line/);
  });

  it('informational heads count towards the head size cap', () => {
    const hint = `HTTP/1.1 103 Early Hints\r\nLink: ${'a'.repeat(1000)}\r\n\r\n`;
    refused(hint.repeat(Math.ceil(maxHeadBytes / hint.length) + 1), /larger than/);
  });
});

describe('response head: header names that are also Object property names', () => {
  it('__proto__, constructor and toString are own values of the headers, never the prototype or inherited members', () => {
    const r = parse('HTTP/1.1 200 OK\r\n__proto__: x\r\nconstructor: y\r\nconstructor: z\r\ntoString: t\r\nContent-Length: 0\r\n\r\n');
    assert.equal(r.kind, 'head');
    if (r.kind !== 'head') return;
    const headers = r.head.headers as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(headers), Object.prototype);
    assert.deepEqual(Object.keys(headers).sort(), ['__proto__', 'constructor', 'content-length', 'tostring']);
    assert.equal(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value, 'x');
    assert.deepEqual(headers.constructor, ['y', 'z']);
    assert.equal(headers.tostring, 't');
  });
});
