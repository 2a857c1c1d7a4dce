// Pullgate's own users for the registry face (`docker login` to the mirror when access.login is required).
import type { AdminContext } from '../admin-context.js';
import { AdminError } from '../admin-errors.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { registryUserCreate, registryUserList } from '../api-schemas.js';

export function userRoutes(ctx: AdminContext): AnyApiRoute[] {
  const list = () => ({ users: ctx.users.list() });
  return [
    route({ method: 'GET', url: '/api/users', summary: 'Registry users (never their passwords)', tag: 'users', response: registryUserList, handler: list }),
    route({
      method: 'POST',
      url: '/api/users',
      summary: "Add a registry user, or set a stored user's password",
      tag: 'users',
      body: registryUserCreate,
      response: registryUserList,
      status: 201,
      async handler({ body }) {
        if (ctx.users.list().some((u) => u.username === body.username && u.source === 'config')) {
          throw new AdminError('READ_ONLY', `user ${body.username} is declared in the config file; change it there`);
        }
        await ctx.users.add(body.username, body.password);
        ctx.log.info({ user: body.username }, 'registry user saved');
        return list();
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/users/:username',
      summary: 'Remove a registry user',
      tag: 'users',
      handler({ params }) {
        const name = String(params.username);
        if (ctx.users.list().some((u) => u.username === name && u.source === 'config')) throw new AdminError('READ_ONLY', `user ${name} is declared in the config file`);
        if (!ctx.users.remove(name)) throw new AdminError('NOT_FOUND', `no user ${name}`);
      },
    }),
  ];
}
