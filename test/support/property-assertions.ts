// Assertions shared by the property tests: a parser facing the network may refuse input, but only with an OCI
// error a client can read (a RegistryError with a 4xx code), never with a TypeError, a RangeError or a 500.
import assert from 'node:assert/strict';
import { errorCodes, RegistryError } from '../../src/registry/errors.js';

/** Runs `parse`; a throw must be a RegistryError whose code is in the table and maps below 500. */
export function parsesOrRefuses<T>(parse: () => T): { value: T } | { error: RegistryError } {
  try {
    return { value: parse() };
  } catch (err) {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    assert.ok(Object.hasOwn(errorCodes, err.code), `unknown error code ${err.code}`);
    assert.ok(err.status >= 400 && err.status < 500, `refusal ${err.code} maps to ${err.status}, not a 4xx`);
    return { error: err };
  }
}
