import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodes, isRegistryError, RegistryError, toErrorCode, type ErrorCode } from '../../../src/registry/errors.js';

describe('RegistryError status', () => {
  // docs/protocol.md, "Errors" (distribution errcode/register.go) plus Pullgate's own upstream codes.
  const table: [ErrorCode, number][] = [
    ['BLOB_UNKNOWN', 404],
    ['BLOB_UPLOAD_INVALID', 400],
    ['DIGEST_INVALID', 400],
    ['MANIFEST_UNKNOWN', 404],
    ['MANIFEST_INVALID', 400],
    ['NAME_INVALID', 400],
    ['NAME_UNKNOWN', 404],
    ['TAG_INVALID', 400],
    ['PAGINATION_NUMBER_INVALID', 400],
    ['RANGE_INVALID', 416],
    ['UNAUTHORIZED', 401],
    ['DENIED', 403],
    ['UNSUPPORTED', 405],
    ['TOOMANYREQUESTS', 429],
    ['UNAVAILABLE', 503],
    ['UPSTREAM_TIMEOUT', 504],
    ['UPSTREAM_INVALID', 502],
    ['REQUEST_INVALID', 400],
    ['NOT_FOUND', 404],
    ['UNKNOWN', 500],
  ];
  for (const [code, status] of table) it(`${code} answers ${status}`, () => assert.equal(new RegistryError(code).status, status));

  it('the table above names every code', () => {
    assert.deepEqual(table.map(([code]) => code).sort(), Object.keys(errorCodes).sort());
  });
});

describe('RegistryError', () => {
  it('uses the table message when none is given', () => {
    const err = new RegistryError('MANIFEST_UNKNOWN');
    assert.equal(err.message, 'manifest unknown');
    assert.equal(err.name, 'RegistryError');
    assert.ok(err instanceof Error);
  });

  it('keeps its own message, detail, headers and cause', () => {
    const cause = new Error('boom');
    const err = new RegistryError('UNAUTHORIZED', 'token expired', {
      detail: [{ Type: 'repository', Name: 'library/nginx', Action: 'pull' }],
      headers: { 'www-authenticate': 'Bearer realm="x"' },
      cause,
    });
    assert.equal(err.message, 'token expired');
    assert.deepEqual(err.detail, [{ Type: 'repository', Name: 'library/nginx', Action: 'pull' }]);
    assert.deepEqual(err.headers, { 'www-authenticate': 'Bearer realm="x"' });
    assert.equal(err.cause, cause);
  });

  it('has no extra headers by default', () => assert.deepEqual(new RegistryError('UNKNOWN').headers, {}));

  it('a body without detail has code and message only', () => {
    assert.deepEqual(new RegistryError('BLOB_UNKNOWN').toBody(), { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    assert.equal(Object.hasOwn(new RegistryError('BLOB_UNKNOWN').toBody().errors[0] ?? {}, 'detail'), false);
  });

  it('a body with detail has the OCI shape', () => {
    const body = new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { detail: { Tag: 'nope' } }).toBody();
    assert.deepEqual(body, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'nope' } }] });
    assert.deepEqual(JSON.parse(JSON.stringify(body)), body);
  });

  it('a falsy detail is still sent', () => {
    assert.deepEqual(new RegistryError('UNKNOWN', 'x', { detail: null }).toBody(), { errors: [{ code: 'UNKNOWN', message: 'x', detail: null }] });
  });

  it('isRegistryError tells registry errors from others', () => {
    assert.equal(isRegistryError(new RegistryError('UNKNOWN')), true);
    assert.equal(isRegistryError(new Error('x')), false);
    assert.equal(isRegistryError({ code: 'UNKNOWN' }), false);
    assert.equal(isRegistryError(undefined), false);
  });
});

describe('toErrorCode', () => {
  const table: [string, unknown, ErrorCode | undefined][] = [
    ['a known upstream code passes through', 'MANIFEST_UNKNOWN', 'MANIFEST_UNKNOWN'],
    ['TOOMANYREQUESTS passes through', 'TOOMANYREQUESTS', 'TOOMANYREQUESTS'],
    ['an unknown code is undefined', 'SOMETHING_ELSE', undefined],
    ['a lower-case code is undefined', 'manifest_unknown', undefined],
    ['an inherited property name is undefined', 'toString', undefined],
    ['__proto__ is undefined', '__proto__', undefined],
    ['constructor is undefined', 'constructor', undefined],
    ['a number is undefined', 404, undefined],
    ['undefined is undefined', undefined, undefined],
    ['null is undefined', null, undefined],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(toErrorCode(input), expected));
});
