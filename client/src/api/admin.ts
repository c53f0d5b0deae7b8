import type { Role, User } from './auth';
import { http } from './http';

export interface Business {
  id: number;
  name: string;
  timezone: string;
  is_active: boolean;
  voice_numbers: string[];
  whatsapp_numbers: string[];
  meta_phone_number_id: string | null;
  /** The Meta access token is write-only: reads only say whether one is stored. */
  meta_access_token_set: boolean;
  twilio_messaging_service_sid: string | null;
  created_at: string;
  updated_at: string;
}

export interface Paged<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

export interface BusinessQuery {
  q?: string;
  active?: boolean;
  page?: number;
  page_size?: number;
}

export interface BusinessInput {
  name: string;
  timezone: string;
  voice_numbers: string[];
  whatsapp_numbers: string[];
  meta_phone_number_id: string | null;
  /** Absent: keep what is stored; a string: replace it; null (PATCH only): remove it. */
  meta_access_token?: string | null;
  twilio_messaging_service_sid: string | null;
}

export type BusinessPatch = Partial<BusinessInput> & { is_active?: boolean };

export const listBusinesses = (query: BusinessQuery, signal?: AbortSignal) =>
  http.get<Paged<Business>>('/api/admin/businesses', { ...query }, signal);
export const getBusiness = (id: number, signal?: AbortSignal) =>
  http.get<Business>(`/api/admin/businesses/${id}`, undefined, signal);
export const createBusiness = (input: BusinessInput) => http.post<Business>('/api/admin/businesses', input);
export const updateBusiness = (id: number, patch: BusinessPatch) =>
  http.patch<Business>(`/api/admin/businesses/${id}`, patch);
export const deactivateBusiness = (id: number) => http.delete<Business>(`/api/admin/businesses/${id}`);

export interface ImpersonationStarted {
  ok: boolean;
  impersonating: boolean;
  tenant_id: number;
  business: Business;
  reason: string;
  started_at: string;
  expires_at: string;
}

export const impersonate = (businessId: number, reason: string) =>
  http.post<ImpersonationStarted>(`/api/admin/businesses/${businessId}/impersonate`, { reason });
export const exitImpersonation = () =>
  http.post<{ ok: boolean; impersonating: boolean; ended_tenant_id: number | null }>(
    '/api/admin/impersonate/exit',
  );

export interface UserQuery {
  q?: string;
  role?: Role;
  business_id?: number;
  active?: boolean;
  page?: number;
  page_size?: number;
}

export interface UserCreateInput {
  email: string;
  full_name: string;
  role: Role;
  business_id: number | null;
  password?: string;
}

export interface UserPatch {
  email?: string;
  full_name?: string;
  role?: Role;
  business_id?: number | null;
  is_active?: boolean;
}

/** A user as created or reset: `generated_password` is there once, when the server made it. */
export interface UserWithPassword extends User {
  generated_password: string | null;
}

export const listUsers = (query: UserQuery, signal?: AbortSignal) =>
  http.get<Paged<User>>('/api/admin/users', { ...query }, signal);
export const createUser = (input: UserCreateInput) => http.post<UserWithPassword>('/api/admin/users', input);
export const updateUser = (id: number, patch: UserPatch) => http.patch<User>(`/api/admin/users/${id}`, patch);
export const deactivateUser = (id: number) => http.delete<User>(`/api/admin/users/${id}`);
export const resetPassword = (id: number) =>
  http.post<UserWithPassword>(`/api/admin/users/${id}/reset-password`, {});

export interface AuditEntry {
  id: number;
  at: string;
  actor_id: number | null;
  actor_email: string | null;
  actor_role: string | null;
  impersonation_id: number | null;
  business_id: number | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  actor_id?: number;
  business_id?: number;
  action?: string;
  impersonation_id?: number;
  since?: string;
  until?: string;
  before_id?: number;
  limit?: number;
}

export const listAudit = (query: AuditQuery, signal?: AbortSignal) =>
  http.get<{ items: AuditEntry[]; next_before_id: number | null }>('/api/admin/audit', { ...query }, signal);
