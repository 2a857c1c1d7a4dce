import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostWithoutPort, isHostname, isRegistryHost } from '../../../src/config/hosts.js';

describe('isHostname', () => {
  const table: [string, string, boolean][] = [
    ['a dotted name is a hostname', 'gcr.mirror.test', true],
    ['a single label is a hostname', 'localhost', true],
    ['dashes inside a label are allowed', 'my-mirror.example-corp.test', true],
    ['digits are allowed', '10.0.0.1', true],
    ['a single character label is allowed', 'a.b', true],
    ['a port is not part of a hostname', 'mirror.test:5000', false],
    ['upper case is refused', 'Mirror.Test', false],
    ['a leading dash is refused', '-mirror.test', false],
    ['a trailing dash in a label is refused', 'mirror-.test', false],
    ['an empty label is refused', 'mirror..test', false],
    ['a trailing dot is refused', 'mirror.test.', false],
    ['an underscore is refused', 'my_mirror.test', false],
    ['an empty string is refused', '', false],
    ['a URL is refused', 'https://mirror.test', false],
    ['a bracketed IPv6 address is refused', '[::1]', false],
    ['a name over 253 characters is refused', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`, false],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(isHostname(input), expected));
});

describe('isRegistryHost', () => {
  const table: [string, string, boolean][] = [
    ['docker.io is a registry host', 'docker.io', true],
    ['a host with a port is a registry host', 'registry.corp.test:5000', true],
    ['localhost with a port is a registry host', 'localhost:5000', true],
    ['an IP address with a port is a registry host', '10.0.0.1:5000', true],
    ['a single label is a registry host', 'registry', true],
    ['upper case is refused', 'Docker.io', false],
    ['an empty port is refused', 'docker.io:', false],
    ['a six-digit port is refused', 'docker.io:123456', false],
    ['a path is refused', 'gcr.io/distroless', false],
    ['a scheme is refused', 'https://gcr.io', false],
    ['an empty string is refused', '', false],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(isRegistryHost(input), expected));
});

describe('hostWithoutPort', () => {
  const table: [string, string, string][] = [
    ['the port is removed and the name lower-cased', 'Gcr.Mirror.Test:5443', 'gcr.mirror.test'],
    ['a host without a port is only lower-cased', 'GCR.mirror.test', 'gcr.mirror.test'],
    ['surrounding whitespace is trimmed', '  mirror.test:5000 ', 'mirror.test'],
    ['an IPv4 address loses its port', '127.0.0.1:5000', '127.0.0.1'],
    ['a bracketed IPv6 address loses its port', '[::1]:5000', '[::1]'],
    ['a bracketed IPv6 address without a port is kept', '[::1]', '[::1]'],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(hostWithoutPort(input), expected));
});
