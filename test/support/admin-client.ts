// A client of the admin API as the web UI and scripts use it: log in (cookie + CSRF token) or an API token.
import { request } from 'undici';

export interface AdminAnswer<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export class AdminClient {
  cookie: string | undefined;
  csrfToken: string | undefined;
  token: string | undefined;

  constructor(readonly url: string) {}

  async login(password: string): Promise<AdminAnswer<{ csrfToken?: string; error?: string }>> {
    const res = await this.call<{ csrfToken?: string; error?: string }>('POST', '/api/login', { password }, { csrf: false });
    const setCookie = res.headers['set-cookie'];
    const first = Array.isArray(setCookie) ? setCookie[0] : setCookie;
    if (res.status === 200 && first) {
      this.cookie = first.split(';')[0];
      this.csrfToken = res.body.csrfToken;
    }
    return res;
  }

  /** A request with the session cookie (and CSRF token unless `csrf: false`) or the API token. */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    opts: { csrf?: boolean; anonymous?: boolean } = {},
  ): Promise<AdminAnswer<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (!opts.anonymous) {
      if (this.token) headers.authorization = `Bearer ${this.token}`;
      if (this.cookie) headers.cookie = this.cookie;
      if (this.csrfToken && opts.csrf !== false && method !== 'GET') headers['x-csrf-token'] = this.csrfToken;
    }
    const res = await request(this.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.body.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed as T, text };
  }

  /** Polls `path` until `done` says so (or fails after `timeoutMs`). */
  async until<T>(path: string, done: (body: T) => boolean, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.call<T>('GET', path);
      if (res.status === 200 && done(res.body)) return res.body;
      if (Date.now() > deadline) throw new Error(`timed out waiting on ${path}: last answer ${res.status} ${res.text.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
