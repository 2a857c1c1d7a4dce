// One JSON POST to a URL the operator configured (a watch list's webhook, docs/watch.md): one try with a timeout,
// the answer's body read and dropped. Here, next to the upstream client, because upstream/ is the one place that
// speaks HTTP to the outside (docs/architecture.md, "Layers").
import { request } from 'undici';

export interface PostOptions {
  timeoutMs: number;
  userAgent: string;
}

/** The answer's status; rejects when no answer came (connection refused, timeout). */
export async function postJson(url: string, body: unknown, o: PostOptions): Promise<number> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': o.userAgent },
    body: JSON.stringify(body),
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
  });
  await res.body.dump();
  return res.statusCode;
}
