import { notifications } from '@mantine/notifications';
import { afterEach, beforeEach, describe, expect, it, type Mock, vi } from 'vitest';

import { login } from './auth';
import { ApiError, configureHttp, CSRF_HEADER, fieldErrors, http, readCookie, resetHttpHooks } from './http';

vi.mock('@mantine/notifications', () => ({ notifications: { show: vi.fn() } }));

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  credentials: RequestCredentials | undefined;
  body: string | undefined;
}

type Reply = { status: number; body?: unknown; setCookie?: string };

/** A fake server: each request is recorded, and answered by `route`. */
function fakeServer(route: (call: Call, index: number) => Reply) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const call: Call = {
      url: String(input),
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      credentials: init.credentials,
      body: init.body as string | undefined,
    };
    calls.push(call);
    const reply = route(call, calls.length - 1);
    if (reply.setCookie !== undefined) setCookie(reply.setCookie);
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status: reply.status,
      headers: { 'Content-Type': 'application/json' },
    });
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

function setCookie(value: string) {
  document.cookie = `XSRF-TOKEN=${value}; path=/`;
}

function clearCookie() {
  document.cookie = 'XSRF-TOKEN=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT';
}

const csrfReply = (token: string): Reply => ({ status: 200, body: { csrfToken: token }, setCookie: token });
const forbidden = (reason: string): Reply => ({
  status: 403,
  body: { error: 'forbidden', reason, message: `refused: ${reason}` },
});

let goToLogin: Mock<(next: string) => void>;

beforeEach(() => {
  clearCookie();
  goToLogin = vi.fn<(next: string) => void>();
  configureHttp({ goToLogin });
  vi.mocked(notifications.show).mockClear();
});

afterEach(() => {
  vi.unstubAllGlobals();
  resetHttpHooks();
  clearCookie();
});

describe('writes carry the CSRF token from the XSRF-TOKEN cookie', () => {
  it.each(['POST', 'PUT', 'PATCH', 'DELETE'] as const)('%s sends X-CSRFToken, JSON and credentials', async (method) => {
    setCookie('token-from-cookie');
    const calls = fakeServer(() => ({ status: 200, body: { ok: true } }));
    const body = method === 'DELETE' ? undefined : { calls_prompt: 'שלום', whatsapp_prompt: 'hi' };
    const send = {
      POST: () => http.post('/api/x', body),
      PUT: () => http.put('/api/x', body),
      PATCH: () => http.patch('/api/x', body),
      DELETE: () => http.delete('/api/x'),
    }[method];

    await expect(send()).resolves.toEqual({ ok: true });

    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call?.method).toBe(method);
    expect(call?.credentials).toBe('include');
    expect(call?.headers[CSRF_HEADER]).toBe('token-from-cookie');
    expect(call?.headers['Content-Type']).toBe('application/json');
    expect(call?.body).toBe(body === undefined ? undefined : JSON.stringify(body));
  });

  it('a GET sends credentials but no CSRF header', async () => {
    setCookie('abc');
    const calls = fakeServer(() => ({ status: 200, body: { items: [] } }));
    await http.get('/api/admin/businesses', { q: 'מספרה', page: 2, active: undefined });
    expect(calls[0]?.url).toBe(`/api/admin/businesses?q=${encodeURIComponent('מספרה')}&page=2`);
    expect(calls[0]?.credentials).toBe('include');
    expect(calls[0]?.headers[CSRF_HEADER]).toBeUndefined();
  });

  it('without a cookie it fetches /api/auth/csrf first, then sends that token', async () => {
    const calls = fakeServer((call) => (call.url === '/api/auth/csrf' ? csrfReply('fresh-1') : { status: 200, body: {} }));
    await http.post('/api/admin/businesses', { name: 'x' });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/auth/csrf', 'POST /api/admin/businesses']);
    expect(calls[1]?.headers[CSRF_HEADER]).toBe('fresh-1');
  });

  it('reads a URL-encoded cookie value', () => {
    setCookie(encodeURIComponent('a+b/c=='));
    expect(readCookie('XSRF-TOKEN')).toBe('a+b/c==');
  });
});

describe('403 csrf_failed: fetch a fresh token once and retry once', () => {
  it('retries with the new token and succeeds', async () => {
    setCookie('stale');
    const calls = fakeServer((call, index) => {
      if (call.url === '/api/auth/csrf') return csrfReply('fresh-2');
      return index === 0 ? forbidden('csrf_failed') : { status: 200, body: { version: 3 } };
    });
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});

    await expect(http.put('/api/business/current/prompt', { calls_prompt: 'a', whatsapp_prompt: 'b' })).resolves.toEqual({
      version: 3,
    });

    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'PUT /api/business/current/prompt',
      'GET /api/auth/csrf',
      'PUT /api/business/current/prompt',
    ]);
    expect(calls[0]?.headers[CSRF_HEADER]).toBe('stale');
    expect(calls[2]?.headers[CSRF_HEADER]).toBe('fresh-2');
    expect(calls[2]?.body).toBe(calls[0]?.body);
    expect(errors).not.toHaveBeenCalled();
    expect(notifications.show).not.toHaveBeenCalled();
  });

  it('retries only once, then reports the refusal', async () => {
    setCookie('stale');
    const calls = fakeServer((call) => (call.url === '/api/auth/csrf' ? csrfReply('fresh-3') : forbidden('csrf_failed')));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});

    const failure = await http.post('/api/admin/businesses/1/impersonate', { reason: 'x' }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).reason).toBe('csrf_failed');
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(2);
    expect(calls.filter((c) => c.url === '/api/auth/csrf')).toHaveLength(1);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(String(errors.mock.calls[0]?.[0])).toContain('fresh-3');
  });

  it('the retry sends the token /api/auth/csrf returned, even when the stale cookie survives', async () => {
    setCookie('stale');
    // The fresh token comes in the body; the cookie it set did not replace the stale one (another
    // path or domain, a browser that kept the old one): the retry must not read the cookie again.
    const calls = fakeServer((call, index) => {
      if (call.url === '/api/auth/csrf') return { status: 200, body: { csrfToken: 'fresh-4' } };
      return index === 0 ? forbidden('csrf_failed') : { status: 200, body: { ok: true } };
    });
    vi.spyOn(console, 'error').mockImplementation(() => {});

    await expect(http.post('/api/leads', { phone: '0502345678' })).resolves.toEqual({ ok: true });

    expect(readCookie('XSRF-TOKEN')).toBe('stale');
    expect(calls.map((c) => `${c.method} ${c.url} ${c.headers[CSRF_HEADER] ?? '-'}`)).toEqual([
      'POST /api/leads stale',
      'GET /api/auth/csrf -',
      'POST /api/leads fresh-4',
    ]);
  });

  it("without a cookie the first write sends the csrf response body's token", async () => {
    const calls = fakeServer((call) =>
      call.url === '/api/auth/csrf' ? { status: 200, body: { csrfToken: 'from-body' }, setCookie: 'old-cookie' } : { status: 200, body: {} },
    );
    await http.patch('/api/leads/7', { status: 'won' });
    expect(calls[1]?.headers[CSRF_HEADER]).toBe('from-body');
  });

  it('does not retry a 403 of another reason', async () => {
    setCookie('tok');
    const calls = fakeServer(() => forbidden('role_mismatch'));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(http.post('/api/admin/users', {})).rejects.toBeInstanceOf(ApiError);
    expect(calls).toHaveLength(1);
  });

  it('does not retry a GET, nor fetch a token for it (a GET is never CSRF-checked)', async () => {
    setCookie('tok');
    const calls = fakeServer(() => forbidden('csrf_failed'));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(http.get('/api/leads')).rejects.toMatchObject({ status: 403, reason: 'csrf_failed' });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET /api/leads']);
    expect(errors).toHaveBeenCalledTimes(1);
  });
});

describe('401 goes to the login page', () => {
  it('calls goToLogin with the current path and throws the server error', async () => {
    window.history.replaceState(null, '', '/app/prompts?tab=1');
    fakeServer(() => ({ status: 401, body: { error: 'unauthorized', reason: 'no_session', message: 'Log in.' } }));

    const failure = await http.get('/api/business/current/prompt').catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(401);
    expect((failure as ApiError).reason).toBe('no_session');
    expect(goToLogin).toHaveBeenCalledWith('/app/prompts?tab=1');
  });

  it('the login form itself gets its 401 as an error, without a redirect', async () => {
    fakeServer((call) =>
      call.url === '/api/auth/csrf'
        ? csrfReply('t')
        : { status: 401, body: { error: 'unauthorized', reason: 'invalid_credentials', message: 'Wrong email or password.' } },
    );
    await expect(login('a@b.co', 'nope')).rejects.toMatchObject({ status: 401, reason: 'invalid_credentials' });
    expect(goToLogin).not.toHaveBeenCalled();
  });
});

describe('after login the token is fetched anew', () => {
  it('POST /api/auth/login, then GET /api/auth/csrf', async () => {
    setCookie('pre-login');
    const me = { user: { id: 1 }, role: 'admin', impersonating: false };
    const calls = fakeServer((call) => (call.url === '/api/auth/csrf' ? csrfReply('post-login') : { status: 200, body: me }));
    await expect(login('admin@x.co', 'pw')).resolves.toEqual(me);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/auth/login', 'GET /api/auth/csrf']);
    expect(readCookie('XSRF-TOKEN')).toBe('post-login');
  });
});

describe('other 403s: a toast with the reason, and console diagnostics', () => {
  it('logs cookie, header and reason, and shows the reason', async () => {
    setCookie('cookie-value-123');
    fakeServer(() => forbidden('role_mismatch'));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});

    const failure = await http.patch('/api/admin/users/7', { role: 'admin' }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).message).toContain('role_mismatch');
    expect(errors).toHaveBeenCalledTimes(1);
    const [text, report] = errors.mock.calls[0] ?? [];
    expect(text).toEqual(expect.stringContaining('role_mismatch'));
    expect(text).toEqual(expect.stringContaining('cookie="cookie-value-123"'));
    expect(text).toEqual(expect.stringContaining('header="cookie-value-123"'));
    expect(report).toMatchObject({
      method: 'PATCH',
      url: '/api/admin/users/7',
      status: 403,
      reason: 'role_mismatch',
      message: 'refused: role_mismatch',
      cookie: 'cookie-value-123',
      header: 'cookie-value-123',
    });
    expect(notifications.show).toHaveBeenCalledTimes(1);
    const toast = vi.mocked(notifications.show).mock.calls[0]?.[0];
    expect(String(toast?.message)).toContain('role_mismatch');
    expect(goToLogin).not.toHaveBeenCalled();
  });

  it('a refused GET logs that no header was sent', async () => {
    fakeServer(() => forbidden('no_tenant'));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(http.get('/api/business/current')).rejects.toMatchObject({ reason: 'no_tenant' });
    expect(errors.mock.calls[0]?.[1]).toMatchObject({ reason: 'no_tenant', header: null, cookie: null });
    expect(String(vi.mocked(notifications.show).mock.calls[0]?.[0]?.message)).toContain('no_tenant');
  });

  it('a 403 without a JSON body still names a reason', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>Forbidden</html>', { status: 403 })));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const failure = (await http.get('/api/x').catch((e: unknown) => e)) as ApiError;
    expect(failure.reason).toBe('http_403');
    expect(String(errors.mock.calls[0]?.[0])).toContain('http_403');
  });
});

describe('errors', () => {
  it('a 422 keeps the per-field errors', async () => {
    setCookie('t');
    fakeServer(() => ({
      status: 422,
      body: {
        error: 'validation_error',
        reason: 'invalid_fields',
        message: 'Invalid input: calls_prompt.',
        fields: [
          { field: 'calls_prompt', message: 'String should have at most 20000 characters', type: 'string_too_long' },
          { field: 'voice_numbers.1', message: 'not a phone number', type: 'phone' },
        ],
      },
    }));
    const failure = await http.put('/api/business/current/prompt', {}).catch((e: unknown) => e);
    expect(fieldErrors(failure)).toEqual({
      calls_prompt: 'String should have at most 20000 characters',
      voice_numbers: 'not a phone number (#2)',
    });
  });

  it('a 409 with `field` maps to that field', async () => {
    setCookie('t');
    fakeServer(() => ({
      status: 409,
      body: { error: 'conflict', reason: 'number_taken', message: '+97235550101 already answers', field: 'voice_numbers' },
    }));
    const failure = await http.post('/api/admin/businesses', {}).catch((e: unknown) => e);
    expect(fieldErrors(failure)).toEqual({ voice_numbers: '+97235550101 already answers' });
  });

  it('a dropped connection is an ApiError with status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(http.get('/api/auth/me')).rejects.toMatchObject({ status: 0, reason: 'network_error' });
  });
});
