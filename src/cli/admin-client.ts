// How the CLI talks to a running mirror: the admin API with an API token (`Authorization: Bearer pgat_...`; tokens
// need no CSRF header). API errors become AdminApiError with the API's stable code; commands wrapped in
// `adminAction` print them as `pullgate: <message>` plus one line per field error, and set the exit code:
// 2 when the API refused the request as malformed (VALIDATION: the user's input, like a usage error), 1 otherwise.
import { Option, type Command } from 'commander';

export const defaultAdminUrl = 'http://127.0.0.1:5001';

export interface AdminFlags {
  admin: string;
  token?: string;
}

export interface FieldError {
  path: string;
  message: string;
}

export class AdminApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fields: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/** Adds `--admin URL` and `--token T` (with their environment variables) to a command that needs the server. */
export function withAdmin(c: Command): Command {
  return c
    .addOption(new Option('--admin <url>', 'admin API of the running mirror').env('PULLGATE_ADMIN_URL').default(defaultAdminUrl))
    .addOption(new Option('--token <token>', 'admin API token, pgat_... (see `pullgate token create`)').env('PULLGATE_ADMIN_TOKEN'));
}

export class AdminClient {
  private readonly base: URL;

  constructor(
    private readonly flags: AdminFlags,
    private readonly timeoutMs = 60_000,
  ) {
    try {
      this.base = new URL(flags.admin);
    } catch {
      throw new AdminApiError('USAGE', `--admin: not a URL: ${flags.admin}`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new AdminApiError('USAGE', `--admin: expected an http:// or https:// URL`);
  }

  get<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const qs = new URLSearchParams(query).toString();
    return this.call<T>('GET', qs ? `${path}?${qs}` : path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('DELETE', path, body);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.flags.token?.trim();
    if (!token) {
      throw new AdminApiError('NO_TOKEN', 'no admin API token: pass --token or set PULLGATE_ADMIN_TOKEN (create one with `pullgate token create NAME`)');
    }
    const url = new URL(path.replace(/^\//, ''), this.base.href.endsWith('/') ? this.base : `${this.base.href}/`);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AdminApiError('UNREACHABLE', `cannot reach the admin API at ${this.base.origin}: ${reason(err)}`);
    }
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : undefined) as T;
    const answer = parseError(text);
    if (res.status === 401) {
      // The API's own wording speaks to a browser ("log in first"); a script's problem is its token.
      throw new AdminApiError('UNAUTHORIZED', `the admin API refused the token (${answer?.message ?? 'unauthorized'}); create one with \`pullgate token create NAME\``);
    }
    throw new AdminApiError(answer?.error ?? `HTTP_${res.status}`, answer?.message ?? `the admin API answered ${res.status} ${res.statusText}`, answer?.fields ?? []);
  }
}

function parseError(text: string): { error: string; message: string; fields?: FieldError[] } | undefined {
  try {
    const v = JSON.parse(text) as { error?: unknown; message?: unknown; fields?: unknown };
    if (typeof v.error === 'string' && typeof v.message === 'string') {
      return { error: v.error, message: v.message, ...(Array.isArray(v.fields) ? { fields: v.fields as FieldError[] } : {}) };
    }
  } catch {
    // Not the API's JSON (a proxy's page, say): the status line says enough.
  }
  return undefined;
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Exit code of a failed admin call: see the file comment. */
export function exitCodeOf(err: AdminApiError): number {
  return err.code === 'VALIDATION' || err.code === 'USAGE' ? 2 : 1;
}

/** Wraps a command action: API errors are printed for a person (never with a stack) and set the exit code. */
export function adminAction<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      if (!(err instanceof AdminApiError)) throw err;
      process.stderr.write(`pullgate: ${err.message}\n`);
      for (const f of err.fields) process.stderr.write(`  ${f.path || 'request'}: ${f.message}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}

/** `/api/upstreams/<name>`: names are path segments. */
export const segment = (value: string): string => encodeURIComponent(value);
