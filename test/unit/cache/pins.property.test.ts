import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchesPin, parsePin, PinError } from '../../../src/cache/pins.js';
import { anyString, propertyOptions, repositoryName, tag } from '../../support/grammar-arbitraries.js';

const upstreamName = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}$/);
/** Replaces some characters of a name with `*`, keeping it a pin pattern. */
const starred = (name: string) =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((flags) =>
    name.split('').map((ch, i) => (flags[i] && /[a-z0-9]/i.test(ch) ? '*' : ch)).join(''),
  );
/** The obvious reading of a glob as a regular expression, for short inputs only (it backtracks). */
const reference = (glob: string): RegExp =>
  new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&')).join('.*')}$`);

describe('pins under arbitrary input', () => {
  it('parsePin refuses anything else with PinError', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        try {
          parsePin(s);
        } catch (err) {
          assert.ok(err instanceof PinError && err.code === 'PIN_INVALID', String(err));
        }
      }),
      propertyOptions(3000),
    );
  });

  it('a pin without wildcards matches exactly the image it names', () => {
    fc.assert(
      fc.property(upstreamName, repositoryName, fc.option(tag), repositoryName, (upstream, repository, t, other) => {
        const pin = parsePin(`${upstream}/${repository}${t === null ? '' : `:${t}`}`);
        const subject = { upstream, repository, ...(t === null ? {} : { tag: t }) };
        assert.ok(matchesPin(pin, subject));
        assert.equal(matchesPin(pin, { ...subject, repository: other }), other === repository);
      }),
      propertyOptions(1500),
    );
  });

  it('wildcards match as the glob reads: `*` is any run of characters, everything else is literal', () => {
    const name = repositoryName.filter((n) => n.length <= 40);
    fc.assert(
      fc.property(name.chain((n) => fc.tuple(fc.constant(n), starred(n))), name, ([repository, pattern], other) => {
        const pin = parsePin(`hub/${pattern}`);
        assert.ok(matchesPin(pin, { upstream: 'hub', repository }), `${pattern} should match ${repository}`);
        assert.equal(matchesPin(pin, { upstream: 'hub', repository: other }), reference(pattern).test(other), `${pattern} vs ${other}`);
      }),
      propertyOptions(1500),
    );
  });

  it('matching takes bounded time even for many wildcards against a 255-character name', () => {
    const pattern = fc.array(fc.constantFrom('a', 'b', 'ab'), { minLength: 4, maxLength: 24 }).map((parts) => `*${parts.join('*')}*c`);
    fc.assert(
      fc.property(pattern, fc.constantFrom('a', 'ab', 'b'), (p, unit) => {
        const pin = parsePin(`hub/${p}`);
        const repository = unit.repeat(Math.floor(255 / unit.length));
        const started = performance.now();
        assert.equal(matchesPin(pin, { upstream: 'hub', repository }), false);
        const ms = performance.now() - started;
        assert.ok(ms < 50, `${p} against ${repository.length} characters took ${ms.toFixed(1)} ms`);
      }),
      propertyOptions(200),
    );
  });
});
