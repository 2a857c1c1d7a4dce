// The routes a fastify instance declares, read from fastify's own route list (`printRoutes`), so that a test walks
// every route the server has, including routes added after the test was written.
import type { FastifyInstance } from 'fastify';

export interface DeclaredRoute {
  method: string;
  /** The declared path, with `:param` and `*` as declared. */
  url: string;
}

/** Every (method, path) pair in `app`'s router. */
export function declaredRoutes(app: FastifyInstance): DeclaredRoute[] {
  const out: DeclaredRoute[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    // Each level of the tree is indented by four characters: "├── ", "│   ", "└── " or four spaces.
    const m = /^((?:[│ ]   )*)(?:├── |└── )(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    const url = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) out.push({ method, url });
  }
  if (out.length === 0) throw new Error(`no routes read from printRoutes:\n${app.printRoutes({ commonPrefix: false })}`);
  return out;
}
