// A failing object store reaches clients as an OCI error: 503 UNAVAILABLE naming the kind of failure and the S3
// request id, without the bucket or the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectStoreError, type ObjectStoreErrorCode } from '../../../src/cache/object-store-errors.js';
import { errorReply } from '../../../src/server/error-reply.js';

describe('object store errors at the registry edge', () => {
  for (const code of ['OBJECT_STORE_DENIED', 'OBJECT_STORE_NO_BUCKET', 'OBJECT_STORE_UNREACHABLE', 'OBJECT_STORE_FAILED'] satisfies ObjectStoreErrorCode[]) {
    it(`${code} becomes 503 UNAVAILABLE with the code and request id in the detail, no bucket or key`, () => {
      const err = new ObjectStoreError(code, 'GetObject', `failure (GetObject secret-bucket/blobs/sha256/ab/abcd)`, {
        key: 'blobs/sha256/ab/abcd',
        requestId: 'tx000-request',
      });
      const reply = errorReply(err);
      assert.equal(reply.status, 503);
      const body = JSON.parse(reply.body) as { errors: Array<{ code: string; message: string; detail: unknown }> };
      assert.equal(body.errors[0]?.code, 'UNAVAILABLE');
      assert.deepEqual(body.errors[0]?.detail, { storage: code, requestId: 'tx000-request' });
      assert.ok(!reply.body.includes('secret-bucket') && !reply.body.includes('abcd'), reply.body);
    });
  }
});
