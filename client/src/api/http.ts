/**
 * The one HTTP module (SPEC "Front end"): the only place that calls fetch.
 *
 * - every request: credentials 'include' (the session cookie), Accept JSON;
 * - every POST/PUT/PATCH/DELETE: Content-Type application/json and X-CSRFToken read from the
 *   XSRF-TOKEN cookie (fetched from GET /api/auth/csrf when the cookie is missing);
 * - the one exception to JSON: an upload (`RequestOptions.raw`). The CSV import sends the file as
 *   the raw `text/csv` body, which POST /api/leads/import reads as is (no multipart, no base64 in
 *   JSON); it is still a write, so it carries X-CSRFToken like every other;
 * - 403 reason=csrf_failed on a write: fetch a fresh token once and retry once, with the token that
 *   GET /api/auth/csrf just returned (not the cookie again: a stale cookie may survive beside it);
 * - 401: go to the login page;
 * - any other 403: a toast with the server's reason, and console.error with the cookie value, the
 *   header that was sent and the reason, never an empty Error {}.
 */
import { notifications } from '@mantine/notifications';

import { translate } from '../i18n';

export const CSRF_COOKIE = 'XSRF-TOKEN';
export const CSRF_HEADER = 'X-CSRFToken';
export const CSRF_URL = '/api/auth/csrf';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const WRITES: ReadonlySet<Method> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface FieldError {
  field: string;
  message: string;
  type: string;
}

/** Every error the server sends: {error, reason, message, fields?} (plus extras like `field`). */
export interface ErrorBody {
  error: string;
  reason: string;
  message: string;
  fields?: FieldError[];
  field?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  readonly fields: FieldError[];
  readonly body: ErrorBody | null;
  readonly method: Method;
  readonly url: string;

  constructor(method: Method, url: string, status: number, body: ErrorBody | null, fallback: string) {
    const reason = body?.reason ?? fallback;
    const message = body?.message ?? fallback;
    super(`${method} ${url} → ${status} ${reason}: ${message}`);
    this.name = 'ApiError';
    this.method = method;
    this.url = url;
    this.status = status;
    this.error = body?.error ?? fallback;
    this.reason = reason;
    this.fields = Array.isArray(body?.fields) ? body.fields : [];
    this.body = body;
  }

  /** The server's own sentence (the Error's message also carries method, url and status). */
  get serverMessage(): string {
    return this.body?.message ?? this.reason;
  }
}

/** What a refused request had in hand, for the console and the toast. */
export interface ForbiddenReport {
  method: Method;
  url: string;
  status: number;
  reason: string;
  message: string;
  /** The XSRF-TOKEN cookie's value when the request was sent (null: no such cookie). */
  cookie: string | null;
  /** The X-CSRFToken header that was sent (null: none, as on a GET). */
  header: string | null;
}

export interface HttpHooks {
  /** Called on a 401; `next` is the path to come back to after logging in. */
  goToLogin: (next: string) => void;
  /** Called on a 403 other than a CSRF failure that a retry fixed. */
  showForbidden: (report: ForbiddenReport) => void;
}

function defaultGoToLogin(next: string): void {
  if (window.location.pathname === '/login') return;
  window.location.assign(`/login?next=${encodeURIComponent(next)}`);
}

function defaultShowForbidden(report: ForbiddenReport): void {
  const known = translate(`reason.${report.reason}`, {}, '');
  notifications.show({
    id: `forbidden-${report.reason}-${report.url}`,
    color: 'red',
    title: translate('errors.forbiddenTitle'),
    message: `${known || report.message} (${report.reason})`,
    autoClose: 8000,
  });
}

const defaultHooks: HttpHooks = { goToLogin: defaultGoToLogin, showForbidden: defaultShowForbidden };
let hooks: HttpHooks = { ...defaultHooks };

/** The app wires router navigation here; tests put spies here. */
export function configureHttp(overrides: Partial<HttpHooks>): void {
  hooks = { ...hooks, ...overrides };
}

export function resetHttpHooks(): void {
  hooks = { ...defaultHooks };
}

export function readCookie(name: string): string | null {
  if (typeof document === 'undefined' || !document.cookie) return null;
  for (const part of document.cookie.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() === name) {
      const raw = part.slice(index + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return null;
}

let csrfInFlight: Promise<string> | null = null;

/** GET /api/auth/csrf: the server sets the XSRF-TOKEN cookie and returns the same token in the body;
 *  the body wins (it is what the server just issued). Concurrent callers share one request. */
export function refreshCsrf(): Promise<string> {
  csrfInFlight ??= (async () => {
    try {
      const response = await doFetch('GET', CSRF_URL, { credentials: 'include', headers: acceptJson() });
      const body = (await readJson(response)) as { csrfToken?: string } | ErrorBody | null;
      if (!response.ok) {
        throw new ApiError('GET', CSRF_URL, response.status, asErrorBody(body), `http_${response.status}`);
      }
      const token = (body as { csrfToken?: string } | null)?.csrfToken || readCookie(CSRF_COOKIE);
      if (!token) {
        throw new ApiError('GET', CSRF_URL, response.status, null, 'csrf_token_missing');
      }
      return token;
    } finally {
      csrfInFlight = null;
    }
  })();
  return csrfInFlight;
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** false: a 401 is just an error for the caller (the login form's wrong password). */
  redirectOn401?: boolean;
  /** A body sent as is (a CSV file) instead of JSON, with its own Content-Type. */
  raw?: { body: Blob | string; contentType: string };
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      // Repeated keys: ?status=new&status=won
      for (const item of value as readonly (string | number)[]) params.append(key, String(item));
      continue;
    }
    params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

function acceptJson(): Record<string, string> {
  return { Accept: 'application/json' };
}

async function doFetch(method: Method, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, method });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    const error = new ApiError(method, url, 0, null, 'network_error');
    (error as { cause?: unknown }).cause = cause;
    throw error;
  }
}

async function readJson(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { __text: text.slice(0, 300) };
  }
}

function asErrorBody(value: unknown): ErrorBody | null {
  if (value && typeof value === 'object' && 'reason' in value && typeof value.reason === 'string') {
    return value as ErrorBody;
  }
  return null;
}

interface Attempt {
  response: Response;
  payload: unknown;
  cookie: string | null;
  header: string | null;
}

/** One try. `token`: the CSRF token to send instead of the cookie's (the retry's fresh one). */
async function attempt(method: Method, url: string, options: RequestOptions, token?: string): Promise<Attempt> {
  const headers: Record<string, string> = acceptJson();
  let cookie = readCookie(CSRF_COOKIE);
  let header: string | null = null;
  if (WRITES.has(method)) {
    headers['Content-Type'] = options.raw?.contentType ?? 'application/json';
    if (token !== undefined) {
      header = token;
    } else if (cookie === null) {
      header = await refreshCsrf();
      cookie = readCookie(CSRF_COOKIE);
    } else {
      header = cookie;
    }
    headers[CSRF_HEADER] = header;
  }
  const init: RequestInit = { credentials: 'include', headers, signal: options.signal };
  if (options.raw) init.body = options.raw.body;
  else if (options.body !== undefined) init.body = JSON.stringify(options.body);
  const response = await doFetch(method, url, init);
  const payload = await readJson(response);
  return { response, payload, cookie, header };
}

export async function request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
  const url = buildUrl(path, options.query);
  let result = await attempt(method, url, options);

  if (
    result.response.status === 403 &&
    WRITES.has(method) &&
    asErrorBody(result.payload)?.reason === 'csrf_failed'
  ) {
    // The token went stale (a new session at login, an expired cookie): fetch a fresh one, retry once
    // with exactly that token.
    const fresh = await refreshCsrf();
    result = await attempt(method, url, options, fresh);
  }

  const { response, payload } = result;
  if (response.ok) return payload as T;

  const body = asErrorBody(payload);
  const error = new ApiError(method, url, response.status, body, `http_${response.status}`);

  if (response.status === 401 && options.redirectOn401 !== false) {
    hooks.goToLogin(currentPath());
  } else if (response.status === 403) {
    const report: ForbiddenReport = {
      method,
      url,
      status: response.status,
      reason: error.reason,
      message: error.serverMessage,
      cookie: result.cookie,
      header: result.header,
    };
    console.error(
      `[http] 403 ${report.reason} on ${method} ${url}: ${report.message} | ` +
        `${CSRF_COOKIE} cookie=${JSON.stringify(report.cookie)} ${CSRF_HEADER} header=${JSON.stringify(report.header)}`,
      report,
    );
    hooks.showForbidden(report);
  }
  throw error;
}

function currentPath(): string {
  if (typeof window === 'undefined') return '/';
  return `${window.location.pathname}${window.location.search}`;
}

export const http = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { query, signal }),
  post: <T>(path: string, body?: unknown, options: RequestOptions = {}) =>
    request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, { body }),
  delete: <T>(path: string) => request<T>('DELETE', path),
};

/** Field name → message, from a 422's `fields` (first segment: `voice_numbers.0` → `voice_numbers`)
 *  and a 409's `field`. */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError)) return {};
  const out: Record<string, string> = {};
  for (const item of error.fields) {
    const name = item.field.split('.')[0] ?? item.field;
    const index = item.field.split('.')[1];
    const text = index !== undefined && /^\d+$/.test(index) ? `${item.message} (#${Number(index) + 1})` : item.message;
    out[name] = out[name] ? `${out[name]}; ${text}` : text;
  }
  if (typeof error.body?.field === 'string' && !out[error.body.field]) {
    out[error.body.field] = error.serverMessage;
  }
  return out;
}
