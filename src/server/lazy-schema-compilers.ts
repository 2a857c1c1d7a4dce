// fastify makes its schema compilers (ajv for validation, fast-json-stringify for replies) when an instance is
// created. The registry routes declare no schemas, so a serving process would hold them (about 1.5 MiB of heap and
// their code) without ever calling them (docs/architecture.md, "Decision: memory is flat in clients and blob
// size"). These factories load fastify's own compilers on their first use instead: a route with a schema still works.
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type Factory = (...args: unknown[]) => unknown;

// Resolved from fastify: they are its dependencies, at the versions it was built with.
const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

function lazily(name: string): Factory {
  let factory: Factory | undefined;
  return (...args) => {
    factory ??= (requireFromFastify(name) as () => Factory)();
    return factory(...args);
  };
}

export function lazySchemaCompilers(): Factories {
  return {
    buildValidator: lazily('@fastify/ajv-compiler') as unknown as Factories['buildValidator'],
    buildSerializer: lazily('@fastify/fast-json-stringify-compiler') as unknown as Factories['buildSerializer'],
  } as Factories;
}
