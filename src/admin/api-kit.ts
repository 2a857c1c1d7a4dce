// How an admin API route is declared: its method, path, request schemas and response schema in one object, so
// that validation, the OpenAPI document and the handler's types come from the same place.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { validationError } from './admin-errors.js';
import type { Principal } from './admin-auth.js';

export interface ApiRoute<B extends z.ZodType, Q extends z.ZodType, R extends z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  /** The success answer; absent for 204. */
  response?: R;
  status?: number;
  /** Reachable without a login (login itself, the session probe, the OpenAPI document). */
  public?: boolean;
  handler(input: {
    body: z.output<B>;
    query: z.output<Q>;
    params: Record<string, string>;
    principal: Principal | undefined;
    req: FastifyRequest;
    reply: FastifyReply;
  }): Promise<R extends z.ZodType ? z.input<R> : void> | (R extends z.ZodType ? z.input<R> : void);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyApiRoute = ApiRoute<any, any, any>;

export function route<B extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, R extends z.ZodType = z.ZodUndefined>(
  r: ApiRoute<B, Q, R>,
): ApiRoute<B, Q, R> {
  return r;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(value ?? (where === 'query' ? {} : undefined));
  if (!result.success) throw validationError(result.error.issues);
  return result.data;
}

/** Principal of the request, set by the auth hook. */
export const principalOf = (req: FastifyRequest): Principal | undefined => (req as FastifyRequest & { principal?: Principal }).principal;

export function registerApiRoutes(app: FastifyInstance, routes: readonly AnyApiRoute[]): void {
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      config: { public: r.public === true },
      handler: async (req, reply) => {
        const body = parse(r.body, req.body, 'body');
        const query = parse(r.query, req.query, 'query');
        const out = await r.handler({ body, query, params: req.params as Record<string, string>, principal: principalOf(req), req, reply });
        if (reply.sent) return reply;
        if (!r.response) return reply.code(r.status ?? 204).send();
        return reply.code(r.status ?? 200).send(out);
      },
    });
  }
}

/** The OpenAPI 3.1 document of the routes (JSON Schema from the zod schemas). */
export function openApiDocument(routes: readonly AnyApiRoute[], errorSchema: z.ZodType): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  const schema = (s: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(s, { io, unrepresentable: 'any' });
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const params = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const query = r.query
      ? Object.entries((schema(r.query, 'input') as { properties?: Record<string, unknown> }).properties ?? {}).map(([name, s]) => ({ name, in: 'query', schema: s }))
      : [];
    const errors = { description: 'an error', content: { 'application/json': { schema: schema(errorSchema, 'output') } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(params.length || query.length ? { parameters: [...params, ...query] } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } } } : {}),
      ...(r.public ? { security: [] } : {}),
      responses: {
        [String(r.status ?? (r.response ? 200 : 204))]: r.response
          ? { description: 'success', content: { 'application/json': { schema: schema(r.response, 'output') } } }
          : { description: 'done' },
        default: errors,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Pullgate admin API', version: '1' },
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'pullgate_session', description: 'state changes also need the X-CSRF-Token header' },
        token: { type: 'http', scheme: 'bearer', description: 'an API token (pgat_...)' },
      },
    },
    security: [{ session: [] }, { token: [] }],
    paths,
  };
}
