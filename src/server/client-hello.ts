// Reads the server name (SNI, RFC 6066 s3) and ALPN protocols (RFC 7301 s3.1) from the first bytes of a TLS
// connection, without decrypting anything: the ClientHello is plaintext in every TLS version (RFC 8446 s4.1.2,
// RFC 5246 s7.4.1.2). Pure and total: any input gives a result, never an exception, so that a hostile peer can
// only get its own connection dropped.

/** Upper bound on the bytes read before a ClientHello must be complete; real ones are well under 4 KiB. */
export const maxClientHelloBytes = 32 * 1024;
/**
 * Upper bound on the records a ClientHello may span. Senders fragment a hello only down to max_fragment_length
 * (512 bytes at least, RFC 6066 s4), so real hellos take a few records; the bound keeps re-parsing cheap.
 */
export const maxClientHelloRecords = 512;

export type ClientHelloResult =
  /** Nothing wrong so far; parsing again is pointless before the input holds `needed` bytes. */
  | { kind: 'incomplete'; needed: number }
  /** A well-formed ClientHello; `bytes` is how much of the input it took (whole records). */
  | { kind: 'hello'; sni: string | undefined; alpn: string[]; bytes: number }
  | { kind: 'invalid'; reason: string };

const recordHeader = 5;
const handshakeRecord = 0x16;
const clientHelloType = 0x01;
/** TLSPlaintext.length must not exceed 2^14 (RFC 8446 s5.1). */
const maxRecordLength = 1 << 14;
const extServerName = 0x0000;
const extAlpn = 0x0010;
/** A DNS name as SNI carries it: ASCII letters, digits, hyphens, dots, underscores seen in the wild. */
const hostName = /^[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?$/;

const invalid = (reason: string): ClientHelloResult => ({ kind: 'invalid', reason });

/**
 * Parses the ClientHello at the start of `input`: the handshake message may span several records, and a record
 * may have arrived only in part. Bytes after the records that hold the hello are not looked at.
 */
export function parseClientHello(input: Uint8Array, limit = maxClientHelloBytes): ClientHelloResult {
  const handshake: Uint8Array[] = [];
  let gathered = 0;
  let offset = 0;
  let needed: number | undefined;
  let records = 0;
  while (needed === undefined || gathered < needed) {
    if (records++ >= maxClientHelloRecords) return invalid('ClientHello in too many records');
    if (input.length - offset < recordHeader) return incompleteOrTooLarge(offset + recordHeader, limit);
    const type = input[offset]!;
    const major = input[offset + 1]!;
    const length = (input[offset + 3]! << 8) | input[offset + 4]!;
    if (type !== handshakeRecord) return invalid(offset === 0 ? 'not a TLS handshake record' : 'a non-handshake record inside the ClientHello');
    if (major !== 3) return invalid('unsupported record version');
    if (length === 0 || length > maxRecordLength) return invalid('bad record length');
    if (offset + recordHeader + length > limit) return invalid('ClientHello too large');
    // Refuse a wrong handshake type as soon as it shows, not after a whole record the peer may never send.
    if (offset === 0 && input.length > recordHeader && input[recordHeader] !== clientHelloType) {
      return invalid('first handshake message is not a ClientHello');
    }
    if (input.length - offset < recordHeader + length) return { kind: 'incomplete', needed: offset + recordHeader + length };
    handshake.push(input.subarray(offset + recordHeader, offset + recordHeader + length));
    gathered += length;
    offset += recordHeader + length;
    if (needed === undefined && gathered >= 4) {
      const head = prefix(handshake, 4);
      if (head[0] !== clientHelloType) return invalid('first handshake message is not a ClientHello');
      needed = 4 + ((head[1]! << 16) | (head[2]! << 8) | head[3]!);
      if (needed > limit) return invalid('ClientHello too large');
    }
  }
  // Records never carry a second handshake message before the server answers; any extra is ignored.
  const body = prefix(handshake, needed).subarray(4);
  const parsed = parseBody(body);
  return parsed.kind === 'hello' ? { ...parsed, bytes: offset } : parsed;
}

function incompleteOrTooLarge(needed: number, limit: number): ClientHelloResult {
  return needed > limit ? invalid('ClientHello too large') : { kind: 'incomplete', needed };
}

/** The first `length` bytes of the fragments, copying only those. */
function prefix(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1 || (parts[0]?.length ?? 0) >= length) return parts[0]!.subarray(0, length);
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const part of parts) {
    if (at >= length) break;
    const n = Math.min(part.length, length - at);
    out.set(part.subarray(0, n), at);
    at += n;
  }
  return out.subarray(0, at);
}

/** A bounds-checked reader: every read past the end marks it short instead of throwing. */
class Reader {
  short = false;
  constructor(
    private readonly b: Uint8Array,
    private pos = 0,
    private readonly end = b.length,
  ) {}
  get left(): number {
    return this.end - this.pos;
  }
  u8(): number {
    if (this.left < 1) return this.fail();
    return this.b[this.pos++]!;
  }
  u16(): number {
    if (this.left < 2) return this.fail();
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  /** A sub-reader over the next `n` bytes, which this reader skips. */
  take(n: number): Reader {
    if (this.left < n) {
      this.fail();
      return new Reader(this.b, this.end, this.end);
    }
    const sub = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return sub;
  }
  bytes(n: number): Uint8Array {
    if (this.left < n) {
      this.fail();
      return new Uint8Array(0);
    }
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private fail(): number {
    this.short = true;
    this.pos = this.end;
    return 0;
  }
}

function parseBody(body: Uint8Array): ClientHelloResult {
  const r = new Reader(body);
  r.bytes(2 + 32); // legacy_version, random
  const sessionId = r.u8();
  if (sessionId > 32) return invalid('bad session id length');
  r.bytes(sessionId);
  const suites = r.u16();
  if (suites < 2 || suites % 2 !== 0) return invalid('bad cipher suites length');
  r.bytes(suites);
  const compression = r.u8();
  if (compression < 1) return invalid('bad compression methods length');
  r.bytes(compression);
  if (r.short) return invalid('truncated ClientHello');
  // A hello without extensions (SSL 3.0 style) is legal and names no server.
  if (r.left === 0) return { kind: 'hello', sni: undefined, alpn: [], bytes: 0 };
  const extensions = r.take(r.u16());
  if (r.short || r.left !== 0) return invalid('bad extensions length');
  let sni: string | undefined;
  let alpn: string[] = [];
  const seen = new Set<number>();
  while (extensions.left > 0) {
    const type = extensions.u16();
    const data = extensions.take(extensions.u16());
    if (extensions.short) return invalid('truncated extension');
    // RFC 8446 s4.2: no extension type may appear twice.
    if (seen.has(type)) return invalid('duplicate extension');
    seen.add(type);
    if (type === extServerName) {
      const name = serverName(data);
      if (typeof name !== 'string') return name;
      sni = name;
    } else if (type === extAlpn) {
      const protocols = alpnProtocols(data);
      if (!Array.isArray(protocols)) return protocols;
      alpn = protocols;
    }
  }
  return { kind: 'hello', sni, alpn, bytes: 0 };
}

/** server_name: a list of (type, name); only host_name (0) is defined, at most once (RFC 6066 s3). */
function serverName(data: Reader): string | ClientHelloResult {
  const list = data.take(data.u16());
  if (data.short || data.left !== 0 || list.left === 0) return invalid('bad server_name extension');
  let name: string | undefined;
  while (list.left > 0) {
    const type = list.u8();
    const bytes = list.bytes(list.u16());
    if (list.short) return invalid('bad server_name extension');
    if (type !== 0) continue;
    if (name !== undefined) return invalid('two host names in server_name');
    name = Buffer.from(bytes).toString('latin1').toLowerCase();
    // RFC 6066: no trailing dot, ASCII only; anything else cannot match a route and is not worth routing.
    if (!hostName.test(name) || name.includes('..')) return invalid('server_name is not a host name');
  }
  return name ?? invalid('server_name without a host name');
}

/** application_layer_protocol_negotiation: a non-empty list of non-empty names. */
function alpnProtocols(data: Reader): string[] | ClientHelloResult {
  const list = data.take(data.u16());
  if (data.short || data.left !== 0 || list.left === 0) return invalid('bad ALPN extension');
  const out: string[] = [];
  while (list.left > 0) {
    const length = list.u8();
    const bytes = list.bytes(length);
    if (list.short || length === 0) return invalid('bad ALPN extension');
    out.push(Buffer.from(bytes).toString('latin1'));
  }
  return out;
}
