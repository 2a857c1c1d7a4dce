// Live activity: a snapshot, and a server-sent event stream of snapshots and finished requests.
import type { AdminContext } from '../admin-context.js';
import { route, type AnyApiRoute } from '../api-kit.js';
import { activitySnapshot } from '../api-schemas.js';

const busyEveryMs = 1_000;
const idleEveryMs = 5_000;

export function activityRoutes(ctx: AdminContext): AnyApiRoute[] {
  const snapshot = () => ({ fills: ctx.activity.inflight(), recent: ctx.activity.recent().slice(0, 50), watch: ctx.activity.recentWatchEvents().slice(0, 20) });
  return [
    route({ method: 'GET', url: '/api/activity', summary: 'Fills in flight and recent requests', tag: 'activity', response: activitySnapshot, handler: snapshot }),
    route({
      method: 'GET',
      url: '/api/activity/events',
      summary: 'Server-sent events: `snapshot` (every second while fills run, else every 5 s) `request` (each finished registry request) and `watch` (a watched tag moved, a watch run failed or was held back)',
      tag: 'activity',
      handler({ req, reply }) {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-accel-buffering': 'no',
          connection: 'keep-alive',
        });
        const send = (event: string, data: unknown): void => {
          res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        let timer: NodeJS.Timeout | undefined;
        const tick = (): void => {
          const s = snapshot();
          send('snapshot', s);
          timer = setTimeout(tick, s.fills.length ? busyEveryMs : idleEveryMs);
        };
        const off = ctx.activity.onRequest((e) => send('request', e));
        const offWatch = ctx.activity.onWatch((e) => send('watch', e));
        tick();
        req.raw.on('close', () => {
          off();
          offWatch();
          clearTimeout(timer);
        });
      },
    }),
  ];
}
