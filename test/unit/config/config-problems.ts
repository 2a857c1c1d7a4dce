// The problems a refused configuration reports (path-qualified lines), for the config schema tests.
import assert from 'node:assert/strict';
import { ConfigError, validateConfig } from '../../../src/config/load.js';

export function problemsOf(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}
