import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { builtinUpstreams } from '../../../src/config/builtin-upstreams.js';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { contractExampleYaml } from '../../support/contract-example.js';

let root: string;
let counter = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pullgate-load-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory holding `files` (relative path -> content); returns the directory. */
async function tree(files: Record<string, string>): Promise<string> {
  const dir = join(root, `case-${++counter}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadConfig to reject');
}

const exampleYaml = contractExampleYaml;

describe('loadConfig with the documented example', () => {
  it('the example validates and resolves every path against the file', async () => {
    const dir = await tree({
      'pullgate.yaml': exampleYaml,
      'certs/fullchain.pem': 'dummy cert\n',
      'certs/privkey.pem': 'dummy key\n',
      'certs/corp-ca.pem': 'dummy ca\n',
      'secrets/corp.txt': 's3cret\n',
    });
    const c = await loadConfig({ file: join(dir, 'pullgate.yaml'), env: {}, cwd: '/' });
    assert.deepEqual(c.listen, { http: '127.0.0.1:5000', https: '127.0.0.1:5443', admin: '127.0.0.1:5001' });
    assert.deepEqual(c.tls.certificates, [{ cert: join(dir, 'certs/fullchain.pem'), key: join(dir, 'certs/privkey.pem') }]);
    assert.equal(c.dataDir, join(dir, 'data'));
    assert.equal(c.log.level, 'info');
    assert.deepEqual(c.timeouts, { connect: 15_000, headers: 60_000, idle: 60_000, keepAlive: 120_000 });
    assert.deepEqual(c.upstreams.map((u) => u.name), ['hub', 'gcr', 'corp']);

    const [hub, gcr, corp] = c.upstreams;
    assert.ok(hub && gcr && corp);
    assert.equal(hub.registry, 'docker.io');
    assert.equal(hub.url.href, 'https://registry-1.docker.io/');
    assert.deepEqual(hub.hosts, ['hub.mirror.test']);
    assert.equal(hub.default, true);
    assert.deepEqual(hub.auth, { mode: 'mirror' });
    assert.equal(hub.tagTtlMs, 300_000);

    assert.equal(gcr.default, false);
    assert.deepEqual(gcr.hosts, ['gcr.mirror.test']);
    assert.deepEqual(gcr.auth, { mode: 'passthrough' });
    assert.equal(gcr.ca, undefined);

    assert.equal(corp.registry, 'registry.corp.test:5000');
    assert.equal(corp.url.origin, 'https://registry.corp.test:5000');
    assert.deepEqual(corp.hosts, []);
    assert.equal(corp.ca, join(dir, 'certs/corp-ca.pem'));
    assert.deepEqual(corp.auth, { mode: 'mirror', username: 'robot', password: 's3cret' });
    assert.equal(corp.insecureSkipVerify, false);
    assert.equal(corp.proxy, undefined);
  });

  it('a relative file path is resolved against cwd and paths against the file', async () => {
    const dir = await tree({ 'etc/pullgate.yaml': 'dataDir: ../var/data\ntls: { certificates: [{ cert: a.pem, key: /abs/k.pem }] }\n' });
    const c = await loadConfig({ file: 'etc/pullgate.yaml', env: {}, cwd: dir });
    assert.equal(c.dataDir, join(dir, 'var/data'));
    assert.deepEqual(c.tls.certificates, [{ cert: join(dir, 'etc/a.pem'), key: '/abs/k.pem' }]);
  });

  it('an absolute dataDir is kept', async () => {
    const dir = await tree({ 'p.yaml': 'dataDir: /var/lib/pullgate\n' });
    assert.equal((await loadConfig({ file: join(dir, 'p.yaml'), env: {} })).dataDir, '/var/lib/pullgate');
  });

  it('PULLGATE_CONFIG names the file when no file is given', async () => {
    const dir = await tree({ 'p.yaml': 'log: { level: debug }\n' });
    const c = await loadConfig({ env: { PULLGATE_CONFIG: 'p.yaml' }, cwd: dir });
    assert.equal(c.log.level, 'debug');
    assert.equal(c.dataDir, join(dir, 'data'));
  });
});

describe('loadConfig passwordFile', () => {
  const table: [string, string, string][] = [
    ['a trailing newline is stripped', 'pw\n', 'pw'],
    ['a trailing CRLF is stripped', 'pw\r\n', 'pw'],
    ['a password without a newline is read as is', 'pw', 'pw'],
    ['only the final line ending is stripped', 'pw\n\n', 'pw\n'],
    ['surrounding spaces are part of the password', ' pw \n', ' pw '],
  ];
  for (const [name, content, expected] of table) {
    it(name, async () => {
      const dir = await tree({
        'p.yaml': 'upstreams: [{ name: corp, registry: corp.test, url: https://corp.test, auth: { username: u, passwordFile: pw.txt } }]\n',
        'pw.txt': content,
      });
      const c = await loadConfig({ file: join(dir, 'p.yaml'), env: {} });
      assert.equal(c.upstreams[0]?.auth.password, expected);
    });
  }

  it('a missing password file is a ConfigError naming the upstream and the path', async () => {
    const dir = await tree({
      'p.yaml': 'upstreams: [{ name: corp, registry: corp.test, url: https://corp.test, auth: { username: u, passwordFile: nope.txt } }]\n',
    });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {} }));
    assert.deepEqual(err.problems, [`upstreams[0].auth.passwordFile: cannot read ${join(dir, 'nope.txt')}: ENOENT`]);
  });

  it('an inline password is kept', async () => {
    const dir = await tree({
      'p.yaml': 'upstreams: [{ name: corp, registry: corp.test, url: https://corp.test, auth: { username: u, password: inline } }]\n',
    });
    assert.deepEqual((await loadConfig({ file: join(dir, 'p.yaml'), env: {} })).upstreams[0]?.auth, { mode: 'mirror', username: 'u', password: 'inline' });
  });
});

describe('loadConfig overrides', () => {
  const yaml = 'listen: { http: 127.0.0.1:5000, admin: 127.0.0.1:5001 }\nupstreams: [{ name: gcr, registry: gcr.io, url: https://gcr.io }, { name: direct, registry: quay.io, url: https://quay.io, proxy: "" }, { name: own, registry: ghcr.io, url: https://ghcr.io, proxy: "http://own.test:8080" }]\n';

  it('environment variables override the file', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const c = await loadConfig({
      file: join(dir, 'p.yaml'),
      env: {
        PULLGATE_LISTEN_HTTP: '0.0.0.0:6000',
        PULLGATE_DATA_DIR: 'cache',
        PULLGATE_LOG_LEVEL: 'debug',
        PULLGATE_PROXY: 'http://proxy.test:3128',
      },
    });
    assert.deepEqual(c.listen, { http: '0.0.0.0:6000', admin: '127.0.0.1:5001' });
    assert.equal(c.dataDir, join(dir, 'cache'));
    assert.equal(c.log.level, 'debug');
    assert.deepEqual(c.upstreams.map((u) => [u.name, u.proxy]), [
      ['gcr', 'http://proxy.test:3128'],
      ['direct', undefined],
      ['own', 'http://own.test:8080'],
    ]);
  });

  it('flags win over environment variables', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const c = await loadConfig({
      file: join(dir, 'p.yaml'),
      env: { PULLGATE_LISTEN_HTTP: ':6000', PULLGATE_LISTEN_ADMIN: ':6001', PULLGATE_LOG_LEVEL: 'debug', PULLGATE_DATA_DIR: '/env' },
      overrides: { listenHttp: ':7000', logLevel: 'warn', dataDir: '/flag' },
    });
    assert.deepEqual(c.listen, { http: ':7000', admin: ':6001' });
    assert.equal(c.log.level, 'warn');
    assert.equal(c.dataDir, '/flag');
  });

  it('an undefined flag leaves the environment value in place', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const c = await loadConfig({
      file: join(dir, 'p.yaml'),
      env: { PULLGATE_LISTEN_HTTP: ':6000' },
      overrides: { listenHttp: undefined, listenHttps: undefined, listenAdmin: undefined, dataDir: undefined, logLevel: undefined, proxy: undefined },
    });
    assert.equal(c.listen.http, ':6000');
  });

  it('an empty environment variable is ignored', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const c = await loadConfig({ file: join(dir, 'p.yaml'), env: { PULLGATE_LISTEN_HTTP: '' } });
    assert.equal(c.listen.http, '127.0.0.1:5000');
  });

  it('an https override is validated against the certificates', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {}, overrides: { listenHttps: ':5443' } }));
    assert.deepEqual(err.problems, ['tls.certificates: listen.https needs at least one certificate']);
  });

  it('an invalid override is reported with its config path', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: { PULLGATE_LISTEN_HTTP: 'nowhere' } }));
    assert.deepEqual(err.problems, ['listen.http: expected host:port, :port or port']);
  });

  it('an invalid proxy override is reported', async () => {
    const dir = await tree({ 'p.yaml': yaml });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {}, overrides: { proxy: 'socks5://p.test' } }));
    assert.deepEqual(err.problems, ['proxy: expected an http:// or https:// proxy URL']);
  });
});

describe('loadConfig without upstreams', () => {
  it('a file without upstreams gets the built-in ones', async () => {
    const dir = await tree({ 'p.yaml': 'log: { level: warn }\n' });
    const c = await loadConfig({ file: join(dir, 'p.yaml'), env: {} });
    assert.deepEqual(c.upstreams.map((u) => u.name), builtinUpstreams.map((u) => u.name));
    assert.deepEqual(c.upstreams.map((u) => u.registry), builtinUpstreams.map((u) => u.registry));
    assert.deepEqual(c.upstreams.filter((u) => u.default).map((u) => u.registry), ['docker.io']);
    assert.equal(c.upstreams[0]?.url.href, 'https://registry-1.docker.io/');
    assert.ok(c.upstreams.every((u) => u.auth.mode === 'mirror' && u.hosts.length === 0 && u.tagTtlMs === 300_000));
  });

  it('the built-in upstreams take the global proxy', async () => {
    const c = await loadConfig({ env: { PULLGATE_PROXY: 'http://proxy.test:3128' }, cwd: root });
    assert.ok(c.upstreams.length > 0);
    assert.ok(c.upstreams.every((u) => u.proxy === 'http://proxy.test:3128'));
  });

  it('no file at all gives the defaults, with dataDir under cwd', async () => {
    const c = await loadConfig({ env: {}, cwd: root });
    assert.deepEqual(c.listen, { http: ':5000', admin: '127.0.0.1:5001' });
    assert.equal(c.dataDir, join(root, 'data'));
    assert.deepEqual(c.tls.certificates, []);
    assert.equal(c.publicUrl, undefined);
    assert.deepEqual(c.upstreams.map((u) => u.name), builtinUpstreams.map((u) => u.name));
  });

  it('an empty file gives the defaults', async () => {
    const dir = await tree({ 'p.yaml': '' });
    const c = await loadConfig({ file: join(dir, 'p.yaml'), env: {} });
    assert.deepEqual(c.listen, { http: ':5000', admin: '127.0.0.1:5001' });
    assert.equal(c.dataDir, join(dir, 'data'));
  });

  it('an explicitly empty upstream list is kept empty', async () => {
    const dir = await tree({ 'p.yaml': 'upstreams: []\n' });
    assert.deepEqual((await loadConfig({ file: join(dir, 'p.yaml'), env: {} })).upstreams, []);
  });
});

describe('loadConfig normalisation', () => {
  it('trailing slashes are removed from publicUrl and upstream URLs', async () => {
    const dir = await tree({
      'p.yaml': 'publicUrl: https://mirror.test/base//\nupstreams: [{ name: x, registry: x.test, url: "https://x.test/prefix/" }]\n',
    });
    const c = await loadConfig({ file: join(dir, 'p.yaml'), env: {} });
    assert.equal(c.publicUrl, 'https://mirror.test/base');
    assert.equal(c.upstreams[0]?.url.href, 'https://x.test/prefix');
  });

  it('tagTtl becomes tagTtlMs', async () => {
    const dir = await tree({ 'p.yaml': 'upstreams: [{ name: x, registry: x.test, url: https://x.test, tagTtl: 90s }]\n' });
    assert.equal((await loadConfig({ file: join(dir, 'p.yaml'), env: {} })).upstreams[0]?.tagTtlMs, 90_000);
  });

  it('insecureSkipVerify is carried through', async () => {
    const dir = await tree({ 'p.yaml': 'upstreams: [{ name: x, registry: x.test, url: https://x.test, insecureSkipVerify: true }]\n' });
    assert.equal((await loadConfig({ file: join(dir, 'p.yaml'), env: {} })).upstreams[0]?.insecureSkipVerify, true);
  });
});

describe('loadConfig failures', () => {
  it('invalid YAML is a ConfigError', async () => {
    const dir = await tree({ 'p.yaml': 'listen: { http: [unclosed\n' });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {} }));
    assert.match(err.message, /is not valid YAML/);
    assert.equal(err.code, 'CONFIG_INVALID');
  });

  it('a YAML list is a ConfigError', async () => {
    const dir = await tree({ 'p.yaml': '- a\n- b\n' });
    assert.match((await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {} }))).message, /must be a YAML mapping/);
  });

  it('a YAML scalar is a ConfigError', async () => {
    const dir = await tree({ 'p.yaml': 'just text\n' });
    assert.match((await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {} }))).message, /must be a YAML mapping/);
  });

  it('a missing file is a ConfigError', async () => {
    const err = await rejection(loadConfig({ file: join(root, 'does-not-exist.yaml'), env: {} }));
    assert.match(err.message, /cannot read config file/);
  });

  it('an unknown key in the file is reported with its path', async () => {
    const dir = await tree({ 'p.yaml': 'upstreams: [{ name: x, registry: x.test, url: https://x.test, mirror: true }]\n' });
    const err = await rejection(loadConfig({ file: join(dir, 'p.yaml'), env: {} }));
    assert.deepEqual(err.problems, ['upstreams[0]: Unrecognized key: "mirror"']);
  });
});
