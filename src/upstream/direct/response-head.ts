// The head of an HTTP/1.1 response to a direct GET (direct-get.ts), parsed strictly from the bytes read so far.
// Hand-written because it sits on the hot byte path of blob fills (docs/architecture.md, "Decision: blobs stream,
// verify, then commit"): undici's parser copies every TLS record into llhttp's WASM memory. Strict on purpose:
// anything a lenient parser would have to guess about (bare CR or LF, obs-fold, whitespace before a colon, two
// Content-Lengths that differ, Content-Length with Transfer-Encoding) is refused, never interpreted; a
// Transfer-Encoding or a body delimited by the connection's close is left to undici (the caller falls back).
import type { IncomingHttpHeaders } from 'node:http';

export const maxHeadBytes = 64 * 1024;
export const maxHeaderLines = 100;

export class ResponseHeadError extends Error {
  readonly code = 'PULLGATE_BAD_RESPONSE_HEAD';

  /** What is wrong with the head, in words (upstream-errors.ts puts it in the operator's log line). */
  constructor(readonly problem: string) {
    super(`upstream response head: ${problem}`);
  }
}

export interface ResponseHead {
  status: number;
  headers: IncomingHttpHeaders;
  /** Offset of the first body byte in the bytes parsed. */
  bodyStart: number;
  /** HTTP/1.0 never keeps its connection for another request (direct-pool.ts). */
  version: '1.0' | '1.1';
}

export type HeadParse =
  | { kind: 'needs-more' }
  /** `length`: the body's bytes (0 for 204 and 304). */
  | { kind: 'head'; head: ResponseHead; length: number }
  /** A well-formed head whose body this reader does not frame (Transfer-Encoding, or no Content-Length). */
  | { kind: 'not-direct'; head: ResponseHead; reason: string }
  | { kind: 'error'; error: ResponseHeadError };

const CR = 0x0d;
const LF = 0x0a;
const statusLine = /^HTTP\/1\.([01]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field content: visible characters, obs-text, space and tab; every other control character is refused.
const headerValue = /^[\t\x20-\x7e\x80-\xff]*$/;
const decimal = /^[0-9]+$/;

const fail = (problem: string): HeadParse => ({ kind: 'error', error: new ResponseHeadError(problem) });

/**
 * Parses `bytes` (everything read from the connection so far, from its first byte). Informational heads (1xx)
 * before the final one are skipped, as undici does (a CDN's 103 Early Hints), except 100 (never asked for: no
 * Expect is sent) and 101; they count towards maxHeadBytes.
 */
export function parseResponseHead(bytes: Buffer): HeadParse {
  for (let start = 0; ; ) {
    const end = bytes.indexOf('\r\n\r\n', start, 'latin1');
    const bare = bareLineEnding(bytes, end < 0 ? Math.min(bytes.length, maxHeadBytes) : end + 4);
    if (bare !== undefined) return fail(bare);
    if (end < 0 || end + 4 > maxHeadBytes) return bytes.length >= maxHeadBytes ? fail(`larger than ${maxHeadBytes} bytes`) : { kind: 'needs-more' };
    const lines = bytes.toString('latin1', start, end).split('\r\n');
    const first = statusLine.exec(lines[0] ?? '');
    if (!first) return fail('malformed status line');
    const status = Number(first[2]);
    const informational = status >= 102 && status < 200;
    if (!informational && (status < 200 || status > 599)) return fail(`status ${status} refused`);
    if (lines.length - 1 > maxHeaderLines) return fail(`more than ${maxHeaderLines} header lines`);
    const fields = parseFields(lines.slice(1));
    if (typeof fields === 'string') return fail(fields);
    if (informational) {
      start = end + 4;
      continue;
    }
    const head: ResponseHead = { status, headers: fields.headers, bodyStart: end + 4, version: first[1] === '0' ? '1.0' : '1.1' };
    if (status === 204 || status === 304) return { kind: 'head', head, length: 0 };
    return framing(head, fields.contentLengths, fields.transferEncoding);
  }
}

/** A CR not followed by LF, or an LF not preceded by CR, before `limit` (the end of the head, or of what is read). */
function bareLineEnding(bytes: Buffer, limit: number): string | undefined {
  for (let i = bytes.indexOf(LF); i >= 0 && i < limit; i = bytes.indexOf(LF, i + 1)) {
    if (i === 0 || bytes[i - 1] !== CR) return 'bare LF line ending';
  }
  for (let i = bytes.indexOf(CR); i >= 0 && i < limit; i = bytes.indexOf(CR, i + 1)) {
    if (i + 1 < limit && bytes[i + 1] !== LF) return 'bare CR in the head';
  }
  return undefined;
}

interface Fields {
  headers: IncomingHttpHeaders;
  contentLengths: string[];
  transferEncoding: boolean;
}

function parseFields(lines: string[]): Fields | string {
  // A Map, not an object: a header named __proto__ or constructor must not reach an object's prototype or members.
  const headers = new Map<string, string | string[]>();
  const contentLengths: string[] = [];
  let transferEncoding = false;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) return 'obs-fold (a header line starting with whitespace)';
    const colon = line.indexOf(':');
    if (colon <= 0) return 'header line without a name and colon';
    const rawName = line.slice(0, colon);
    if (!headerName.test(rawName)) return `invalid header name ${JSON.stringify(rawName)}`;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!headerValue.test(value)) return `control character in the value of ${rawName}`;
    const name = rawName.toLowerCase();
    if (name === 'content-length') contentLengths.push(value);
    if (name === 'transfer-encoding') transferEncoding = true;
    const seen = headers.get(name);
    if (seen === undefined) headers.set(name, name === 'set-cookie' ? [value] : value);
    else if (Array.isArray(seen)) seen.push(value);
    else headers.set(name, [seen, value]);
  }
  // Repeated identical Content-Length lines are one value (checked in framing()).
  if (contentLengths.length > 1) headers.set('content-length', contentLengths[0] ?? '');
  // Object.fromEntries defines own properties: `__proto__` becomes a value like any other.
  return { headers: Object.fromEntries(headers) as IncomingHttpHeaders, contentLengths, transferEncoding };
}

function framing(head: ResponseHead, contentLengths: string[], transferEncoding: boolean): HeadParse {
  if (transferEncoding && contentLengths.length > 0) return fail('both Content-Length and Transfer-Encoding');
  if (transferEncoding) return { kind: 'not-direct', head, reason: 'Transfer-Encoding' };
  if (contentLengths.length === 0) return { kind: 'not-direct', head, reason: 'no Content-Length' };
  const [value] = contentLengths;
  if (contentLengths.some((v) => v !== value)) return fail('Content-Length values differ');
  if (value === undefined || !decimal.test(value)) return fail(`Content-Length ${JSON.stringify(value)} is not a decimal number`);
  const length = Number(value);
  if (!Number.isSafeInteger(length)) return fail(`Content-Length ${value} is too large`);
  return { kind: 'head', head, length };
}
