import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SniRoutes, SniRoutesError } from '../../../src/server/sni-routes.js';

describe('SniRoutes', () => {
  const routes = (): SniRoutes =>
    new SniRoutes([
      { sni: 'registry.secure.test', to: '127.0.0.1:8443' },
      { sni: '*.secure.test', to: 'wild.internal:443' },
      { sni: 'deep.a.secure.test', to: '[::1]:9443' },
    ]);

  it('an exact name wins over a wildcard', () => assert.equal(routes().match('registry.secure.test')?.to, '127.0.0.1:8443'));
  it('a wildcard matches one more label', () => assert.deepEqual(routes().match('other.secure.test')?.backend, { host: 'wild.internal', port: 443 }));
  it('a wildcard does not match two more labels', () => assert.equal(routes().match('x.y.secure.test'), undefined));
  it('a wildcard does not match its bare domain', () => assert.equal(routes().match('secure.test'), undefined));
  it('names match whatever their case', () => assert.equal(routes().match('Registry.SECURE.test')?.to, '127.0.0.1:8443'));
  it('a deeper exact name is found', () => assert.deepEqual(routes().match('deep.a.secure.test')?.backend, { host: '::1', port: 9443 }));
  it('no server name matches nothing', () => assert.equal(routes().match(undefined), undefined));
  it('an unrelated name matches nothing', () => assert.equal(routes().match('mirror.test'), undefined));

  it('replace swaps the whole list', () => {
    const r = routes();
    r.replace([{ sni: 'new.test', to: '127.0.0.1:1' }]);
    assert.equal(r.match('registry.secure.test'), undefined);
    assert.equal(r.match('new.test')?.to, '127.0.0.1:1');
    assert.deepEqual(r.list(), [{ sni: 'new.test', to: '127.0.0.1:1' }]);
  });

  it('an invalid list changes nothing and names every problem', () => {
    const r = routes();
    assert.throws(
      () => r.replace([{ sni: 'ok.test', to: '127.0.0.1:1' }, { sni: 'Bad Name', to: 'nowhere' }, { sni: 'ok.test', to: '127.0.0.1:2' }]),
      (err: unknown) => {
        assert.ok(err instanceof SniRoutesError);
        assert.equal(err.code, 'SNI_ROUTES_INVALID');
        assert.deepEqual(err.problems, [
          '[1].sni: expected a lower-case host name or *.domain',
          '[1].to: expected host:port, ipv4:port or [ipv6]:port with a port from 1 to 65535',
          '[2].sni: ok.test is routed twice',
        ]);
        return true;
      },
    );
    assert.equal(r.match('registry.secure.test')?.to, '127.0.0.1:8443');
    assert.equal(r.list().length, 3);
  });
});
