// `pullgate config print|schema` run as a user runs them: exit codes, stdout that parses, secrets never printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { contractExampleYaml } from '../support/contract-example.js';
import { mainScript } from '../support/mirror-process.js';

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', mainScript, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface PrintedUpstream {
  name: string;
  tagTtl: string;
  ca?: string;
  proxy?: string;
  auth: { mode: string; username?: string; password?: string; passwordFile?: string };
}

describe('pullgate config print and schema', () => {
  let dir: string;
  const secretConfig = () => join(dir, 'secret.yaml');

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pullgate-cli-config-'));
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets/corp.txt'), 'robot-password\n');
    await writeFile(join(dir, 'pullgate.yaml'), contractExampleYaml);
    await writeFile(
      secretConfig(),
      [
        'proxy: http://egress:proxy-secret@proxy.corp.test:3128',
        'shutdownGrace: 45s',
        'upstreams:',
        '  - { name: corp, registry: registry.corp.test, url: https://registry.corp.test, tagTtl: 90s,',
        '      auth: { username: robot, password: inline-secret }, proxy: "http://u:upstream-proxy-secret@p.corp.test:8080" }',
        '',
      ].join('\n'),
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('config print --json prints the effective config as JSON: defaults filled, paths absolute, durations readable', async () => {
    const r = await run(['config', 'print', '--json', join(dir, 'pullgate.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as {
      dataDir: string;
      tls: { certificates: Array<{ cert: string }> };
      shutdownGrace: string;
      timeouts: Record<string, string>;
      cache: { maxSize: number };
      upstreams: PrintedUpstream[];
    };
    assert.equal(c.dataDir, join(dir, 'data'));
    assert.equal(c.tls.certificates[0]?.cert, join(dir, 'certs/fullchain.pem'));
    assert.equal(c.shutdownGrace, '30s');
    assert.deepEqual(c.timeouts, { connect: '15s', headers: '1m', idle: '1m', keepAlive: '2m' });
    assert.equal(c.cache.maxSize, 20 * 2 ** 30);
    const corp = c.upstreams.find((u) => u.name === 'corp');
    assert.deepEqual(corp?.auth, { mode: 'mirror', username: 'robot', passwordFile: join(dir, 'secrets/corp.txt') });
    assert.equal(corp?.ca, join(dir, 'certs/corp-ca.pem'));
    assert.equal(corp?.tagTtl, '5m');
    assert.ok(!r.stdout.includes('robot-password'), 'the password file is not read into the output');
  });

  test('config print redacts inline passwords and proxy credentials, in YAML and in JSON', async () => {
    for (const args of [['config', 'print', secretConfig()], ['config', 'print', '--json', secretConfig()]]) {
      const r = await run(args);
      assert.equal(r.code, 0, r.stderr);
      for (const secret of ['inline-secret', 'proxy-secret', 'upstream-proxy-secret']) assert.ok(!r.stdout.includes(secret), `${secret} printed`);
      const c = (args.includes('--json') ? JSON.parse(r.stdout) : parseYaml(r.stdout)) as { proxy: string; upstreams: PrintedUpstream[] };
      assert.equal(c.proxy, 'http://egress:REDACTED@proxy.corp.test:3128/');
      assert.equal(c.upstreams[0]?.auth.password, 'REDACTED');
      assert.equal(c.upstreams[0]?.proxy, 'http://u:REDACTED@p.corp.test:8080/');
      assert.equal(c.upstreams[0]?.tagTtl, '90s');
    }
  });

  test('config print without a file shows the built-in upstreams and takes PULLGATE_* variables into account', async () => {
    const r = await run(['config', 'print', '--json'], { PULLGATE_CONFIG: '', PULLGATE_LOG_LEVEL: 'warn', PULLGATE_DATA_DIR: '/var/lib/pullgate' });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as { log: { level: string }; dataDir: string; upstreams: PrintedUpstream[] };
    assert.equal(c.log.level, 'warn');
    assert.equal(c.dataDir, '/var/lib/pullgate');
    assert.deepEqual(c.upstreams.map((u) => u.name), ['hub', 'gcr', 'quay', 'ghcr', 'k8s', 'ecr-public', 'mcr']);
  });

  test('the YAML config print writes is itself a valid config that prints the same again', async () => {
    const first = await run(['config', 'print', join(dir, 'pullgate.yaml')]);
    assert.equal(first.code, 0, first.stderr);
    const copy = join(dir, 'printed.yaml');
    await writeFile(copy, first.stdout);
    const second = await run(['config', 'print', copy]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
  });

  test('config print of an invalid file exits 2, names each problem on stderr and prints nothing on stdout', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'shutdownGrace: soon\ncolour: blue\n');
    const r = await run(['config', 'print', '--json', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /shutdownGrace: not a duration: soon/);
    assert.match(r.stderr, /Unrecognized key: "colour"/);
    const missing = await run(['config', 'print', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read config file .*nope\.yaml/);
  });

  test('config schema prints a JSON Schema (draft 2020-12) that closes every object and knows every key', async () => {
    const r = await run(['config', 'schema']);
    assert.equal(r.code, 0, r.stderr);
    const schema = JSON.parse(r.stdout) as {
      $schema: string;
      title: string;
      additionalProperties: boolean;
      properties: Record<string, { default?: unknown; properties?: Record<string, unknown>; items?: { required?: string[]; additionalProperties?: boolean } }>;
    };
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.title, 'Pullgate configuration');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(Object.keys(schema.properties).sort(), [
      'access', 'admin', 'cache', 'cluster', 'dataDir', 'listen', 'log', 'proxy', 'publicUrl', 'shutdownGrace', 'timeouts', 'tls', 'upstreams', 'workers',
    ]);
    assert.equal(schema.properties.workers?.default, 1);
    assert.equal(schema.properties.shutdownGrace?.default, '30s');
    assert.deepEqual(schema.properties.upstreams?.items?.required, ['name', 'registry', 'url']);
    assert.equal(schema.properties.upstreams?.items?.additionalProperties, false);
  });
});
