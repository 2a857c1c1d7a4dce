// The admin API client: JSON in and out, the CSRF token on every state-changing request, errors as ApiError with
// the server's stable code so that pages can react to VALIDATION, READ_ONLY, TOO_MANY_ATTEMPTS and so on.
import type { ApiErrorBody, FieldError, SessionView } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
    /** Seconds, from Retry-After (429). */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class Api {
  private csrfToken: string | undefined;

  /** Called when a request that needed a session got 401: the session expired or was logged out elsewhere. */
  constructor(private readonly onUnauthorized: () => void) {}

  async session(): Promise<SessionView> {
    const view = await this.request<SessionView>('GET', '/api/session', undefined, false);
    this.csrfToken = view.csrfToken;
    return view;
  }

  async login(password: string): Promise<void> {
    const view = await this.request<SessionView>('POST', '/api/login', { password }, false);
    this.csrfToken = view.csrfToken;
  }

  async logout(): Promise<void> {
    await this.request<void>('POST', '/api/logout', undefined, false);
    this.csrfToken = undefined;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  send<T>(method: Exclude<Method, 'GET'>, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  private async request<T>(method: Method, path: string, body?: unknown, sessionRequired = true): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new ApiError(0, 'NETWORK', `The admin server did not answer (${String(err)}).`);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed as T;
    const err = (parsed ?? {}) as Partial<ApiErrorBody>;
    if (res.status === 401 && sessionRequired) this.onUnauthorized();
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(
      res.status,
      err.error ?? `HTTP_${res.status}`,
      err.message ?? `${method} ${path} failed with HTTP ${res.status}`,
      err.fields ?? [],
      Number.isFinite(retry) && retry > 0 ? retry : undefined,
    );
  }
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
