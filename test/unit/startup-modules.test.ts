// What a start loads (src/acme/acme.ts, src/cli/program.ts): the ACME client and the X.509 code are loaded only
// when certificates are managed or made, so every other start of the CLI and the server is quicker without them.
// node --test runs each file in a process of its own: the module cache here holds what these imports loaded.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const loadedPackages = (): string[] =>
  Object.keys(createRequire(import.meta.url).cache).flatMap((path) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? []);

test('the CLI and the server modules load neither acme-client nor @peculiar/x509; the ACME wiring loads them when called', async () => {
  await import('../../src/cli/program.js');
  await import('../../src/app/app.js');
  const packages = new Set(loadedPackages());
  assert.ok(packages.has('fastify') && packages.has('undici'), [...packages].join(', '));
  assert.ok(!packages.has('acme-client'), 'acme-client is loaded');
  assert.ok(!packages.has('@peculiar/x509'), '@peculiar/x509 is loaded');
  await import('../../src/acme/managed-certificates.js');
  await import('../../src/acme/acme-issuer.js');
  const after = new Set(loadedPackages());
  assert.ok(after.has('acme-client') && after.has('@peculiar/x509'), 'the probe sees what a use loads');
});

test('a server without a bucket, signature requirements, a pretty log or an admin loads neither the AWS SDK, Sigstore, pino-pretty nor the admin UI server', async () => {
  await import('../../src/cli/program.js');
  await import('../../src/app/app.js');
  const packages = new Set(loadedPackages());
  const lazy = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage', '@aws-sdk/s3-request-presigner', '@smithy/core', '@sigstore/verify', '@sigstore/bundle', '@sigstore/protobuf-specs', 'pino-pretty', '@fastify/static'];
  for (const name of lazy) assert.ok(!packages.has(name), `${name} is loaded`);
  await import('../../src/cache/s3-blob-storage.js');
  await import('../../src/admin/admin-server.js');
  const after = new Set(loadedPackages());
  assert.ok(after.has('@smithy/core') && after.has('@fastify/static'), `the probe sees what a use loads: ${[...after].join(', ')}`);
});

test('a started mirror serving requests loads neither ajv nor the schema compilers (its routes have no schemas); a route with a schema still compiles them', async () => {
  const { startMirror } = await import('../support/mirror-app.js');
  const { lazySchemaCompilers } = await import('../../src/server/lazy-schema-compilers.js');
  const mirror = await startMirror({ upstreams: [{ name: 'up', registry: 'docker.io', url: 'http://127.0.0.1:9', default: true }] });
  try {
    const res = await fetch(`${mirror.url}/v2/`);
    assert.equal(res.status, 200);
    const notFound = await fetch(`${mirror.url}/nothing-here`);
    assert.equal(notFound.status, 404);
    assert.match(await notFound.text(), /"errors"/);
  } finally {
    await mirror.close();
  }
  const packages = new Set(loadedPackages());
  // fast-json-stringify's small runtime serializer is fastify's own error serializer: not a compiler.
  for (const name of ['ajv', 'ajv-formats', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler']) assert.ok(!packages.has(name), `${name} is loaded`);
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ schemaController: { compilersFactory: lazySchemaCompilers() } });
  app.get('/n', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } }, async (req) => ({ n: (req.query as { n: number }).n }));
  assert.equal((await app.inject('/n?n=3')).json<{ n: number }>().n, 3);
  assert.equal((await app.inject('/n?n=x')).statusCode, 400);
  await app.close();
  assert.ok(new Set(loadedPackages()).has('ajv'), 'the probe sees what a schema loads');
});
