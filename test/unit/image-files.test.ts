// The Dockerfile and .dockerignore without a container engine (scripts/verify-image.sh builds and runs the image in
// CI): the image ships the Node.js major the tests run on, pinned to a version, on the same Debian release in both
// stages; every source the build copies is in the build context, and nothing built or installed on the host is.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** .dockerignore's rules as Docker applies them: the last rule matching a path or one of its parents wins. */
function contextFilter(dockerignore: string): (path: string) => boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const pattern = (include ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern.split('**').map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*');
      return { include, regex: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) included = rule.include;
    return included;
  };
}

describe('the Dockerfile and its build context', () => {
  let dockerfile: string;
  let inContext: (path: string) => boolean;
  before(async () => {
    dockerfile = await readFile(join(repo, 'Dockerfile'), 'utf8');
    inContext = contextFilter(await readFile(join(repo, '.dockerignore'), 'utf8'));
  });

  it('ships the Node.js major that scripts/node-env.sh gives the tests, pinned to a version, on one Debian release', async () => {
    const nodeEnv = await readFile(join(repo, 'scripts', 'node-env.sh'), 'utf8');
    const tested = /^pullgate_node_major=(\d+)$/m.exec(nodeEnv)?.[1];
    const node = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-(\w+)-slim$/m.exec(dockerfile);
    const runtime = /^ARG RUNTIME_IMAGE=debian:(\d+)\.\d+-slim$/m.exec(dockerfile);
    assert.ok(tested && node && runtime, 'NODE_IMAGE node:X.Y.Z-<release>-slim and RUNTIME_IMAGE debian:N.M-slim');
    assert.equal(node[1], tested);
    assert.equal(runtime[1], { bookworm: '12', trixie: '13' }[node[2] as string], `${node[2]} is Debian ${runtime[1]}`);
  });

  it('every source the build copies is in the context; node_modules, dist, web/dist, data and tests are not', () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(/\s+/));
    assert.ok(sources.includes('web') && sources.includes('src'), sources.join(' '));
    for (const source of sources) assert.ok(inContext(source), `${source} is in the build context`);
    for (const path of ['web/build.ts', 'web/src/main.tsx', 'web/index.html', 'src/main.ts']) assert.ok(inContext(path), path);
    for (const path of ['node_modules/fastify/package.json', 'dist/src/main.js', 'web/dist/app.js', 'data/cache.db', 'test/unit/logger.test.ts', '.git/HEAD']) {
      assert.ok(!inContext(path), `${path} stays out of the build context`);
    }
  });

  it('the runtime stage takes the built admin UI to web/dist next to package.json, where the admin listener looks', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /^WORKDIR \/app$/m);
    assert.match(runtime, /^COPY --from=build \/app\/package\.json \.\/$/m);
    assert.match(runtime, /^COPY --from=build \/app\/web\/dist \.\/web\/dist$/m);
    assert.doesNotMatch(runtime, /^RUN .*apt-get/m, 'no packages installed in the runtime stage');
  });

  it('runs the server as node dist/src/main.js, which gives itself its memory settings; none set beside them (docs/operating.md#memory)', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
    assert.ok(entrypoint, 'an exec-form ENTRYPOINT');
    assert.deepEqual(JSON.parse(entrypoint), ['node', '/app/dist/src/main.js']);
    assert.doesNotMatch(dockerfile, /MALLOC_|semi-space|NODE_OPTIONS/, 'one place for the memory settings: src/cli/memory-settings.ts');
  });
});
