import { http, refreshCsrf } from './http';

export type Role = 'admin' | 'manager' | 'business';

export interface User {
  id: number;
  email: string;
  full_name: string;
  role: Role;
  business_id: number | null;
  is_active: boolean;
  last_login_at: string | null;
  created_at: string;
}

export interface BusinessBrief {
  id: number;
  name: string;
  is_active: boolean;
}

export interface Impersonation {
  id: number;
  business: BusinessBrief;
  reason: string;
  started_at: string;
  expires_at: string;
}

export interface Me {
  user: User;
  role: Role;
  tenant_id: number | null;
  tenant: BusinessBrief | null;
  impersonating: boolean;
  impersonation: Impersonation | null;
}

export const isPlatform = (role: Role): boolean => role === 'admin' || role === 'manager';

/** Sign in, then fetch a CSRF token for the new session (SPEC: /api/auth/csrf right after login). */
export async function login(email: string, password: string): Promise<Me> {
  const me = await http.post<Me>('/api/auth/login', { email, password }, { redirectOn401: false });
  await refreshCsrf();
  return me;
}

export function logout(): Promise<{ ok: boolean }> {
  return http.post<{ ok: boolean }>('/api/auth/logout');
}

export function fetchMe(signal?: AbortSignal): Promise<Me> {
  return http.get<Me>('/api/auth/me', undefined, signal);
}
