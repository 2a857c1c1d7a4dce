// The host names the admin answers to (docs/security.md, "Which host names the admin answers to"): IP literals,
// localhost, and the configured names; never a name an attacker can register, whatever the spelling.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AdminHosts } from '../../../src/admin/admin-hosts.js';
import { anyString, propertyOptions } from '../../support/grammar-arbitraries.js';

const hosts = new AdminHosts({ listen: 'admin.internal:5001', publicUrl: 'https://mirror.example.com', hosts: ['pullgate-admin.example.com'] });
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
const port = fc.option(fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`), { nil: '' });

describe('admin host names', () => {
  it('answers to address literals, localhost, the listen and publicUrl hosts and admin.hosts, in any case and port', () => {
    for (const h of ['127.0.0.1', '10.1.2.3:5001', '[::1]:5001', '[2001:db8::7]', 'localhost', 'LOCALHOST:1', 'a.b.localhost:9', 'admin.internal', 'Mirror.Example.Com:443', 'pullgate-admin.example.com.', 'admin.internal.']) {
      assert.equal(hosts.allows(h), true, h);
    }
    for (const h of [undefined, '', 'evil.example', 'mirror.example.com.evil.example', 'evilmirror.example.com', 'localhost.evil.example', '127.0.0.1.nip.io', '::1', 'user@localhost', 'localhost/x', '0x7f.1']) {
      assert.equal(hosts.allows(h), false, String(h));
    }
  });

  it('a name under a domain the operator did not give is never answered, whatever labels and case it has', () => {
    const foreign = fc
      .tuple(fc.array(label, { minLength: 0, maxLength: 4 }), fc.constantFrom('evil.example', 'attacker.test', 'example.com.evil.example', 'localhost.evil.example', 'nip.io'), port, fc.boolean())
      .map(([labels, domain, p, upper]) => {
        const name = [...labels, domain].join('.') + p;
        return upper ? name.toUpperCase() : name;
      });
    fc.assert(fc.property(foreign, (h) => assert.equal(hosts.allows(h), false, h)), propertyOptions(2000));
  });

  it('never throws on any Host header', () => {
    fc.assert(fc.property(anyString, (h) => void hosts.allows(h)), propertyOptions(2000));
  });
});
