import { buildUrl, http, type Query } from './http';

export type LeadSource = 'manual' | 'call' | 'whatsapp' | 'import' | 'api';
export const LEAD_SOURCES: LeadSource[] = ['manual', 'call', 'whatsapp', 'import', 'api'];
export type LeadSort = '-created_at' | 'created_at' | '-updated_at' | 'updated_at';

export interface Lead {
  id: number;
  business_id: number;
  full_name: string;
  phone: string | null;
  phone_valid: boolean;
  email: string | null;
  source: LeadSource | string;
  status: string;
  notes: string;
  tags: string[];
  assignee_id: number | null;
  last_inbound_at: string | null;
  status_changed_at: string | null;
  status_changed_by_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface FieldWarning {
  field: string;
  message: string;
}

export interface LeadWrite extends Lead {
  warnings: FieldWarning[];
}

export interface ActorRef {
  id: number;
  email: string;
  full_name: string;
}

export interface LeadEvent {
  id: number;
  kind: string;
  at: string;
  actor: ActorRef | null;
  text: string | null;
  data: Record<string, unknown>;
}

export interface LeadDetail extends Lead {
  timeline: LeadEvent[];
}

export interface LeadPage {
  items: Lead[];
  next_cursor: string | null;
}

export interface PipelineStatus {
  key: string;
  label: string;
  position: number;
  kind: 'open' | 'won' | 'lost';
}

/** The list's filters, as GET /api/leads and /api/leads/export.csv take them. */
export interface LeadFilters {
  status?: string[];
  source?: string[];
  tag?: string;
  assignee_id?: number;
  unassigned?: boolean;
  created_from?: string;
  created_to?: string;
  q?: string;
  sort?: LeadSort;
}

export interface LeadCreate {
  full_name?: string;
  phone?: string | null;
  email?: string | null;
  source?: LeadSource;
  status?: string;
  notes?: string;
  tags?: string[];
  assignee_id?: number | null;
}

export type LeadPatch = Partial<Omit<LeadCreate, 'source'>>;

export interface ImportRowError {
  row: number;
  field: string;
  message: string;
}

export interface ImportReport {
  dry_run: boolean;
  rows: number;
  created: number;
  merged: number;
  folded: number; // rows repeating an earlier row of the file (same phone or email)
  skipped: number;
  errors: ImportRowError[];
  warnings: ImportRowError[];
}

function filterQuery(filters: LeadFilters): Query {
  return {
    status: filters.status?.length ? filters.status : undefined,
    source: filters.source?.length ? filters.source : undefined,
    tag: filters.tag,
    assignee_id: filters.assignee_id,
    unassigned: filters.unassigned ? true : undefined,
    created_from: filters.created_from,
    created_to: filters.created_to,
    q: filters.q,
    sort: filters.sort,
  };
}

export const listLeads = (filters: LeadFilters, cursor: string | undefined, limit: number, signal?: AbortSignal) =>
  http.get<LeadPage>('/api/leads', { ...filterQuery(filters), cursor, limit }, signal);

/** A plain link (same origin, the session cookie rides along): the browser downloads the file. */
export const exportUrl = (filters: LeadFilters) => buildUrl('/api/leads/export.csv', filterQuery(filters));

export const getLead = (id: number, signal?: AbortSignal) => http.get<LeadDetail>(`/api/leads/${id}`, undefined, signal);
export const createLead = (data: LeadCreate) => http.post<LeadWrite>('/api/leads', data);
export const updateLead = (id: number, data: LeadPatch) => http.patch<LeadWrite>(`/api/leads/${id}`, data);
export const moveLead = (id: number, status: string) => http.patch<LeadWrite>(`/api/leads/${id}`, { status });
export const addNote = (id: number, text: string) => http.post<LeadEvent>(`/api/leads/${id}/notes`, { text });
export const bulkStatus = (ids: number[], status: string) =>
  http.post<{ updated: number }>('/api/leads/bulk-status', { ids, status });
export const getStatuses = (signal?: AbortSignal) =>
  http.get<{ statuses: PipelineStatus[] }>('/api/leads/statuses', undefined, signal);

/** The file goes as the raw text/csv body (the server reads UTF-8, with or without BOM, or Windows-1255). */
export const importCsv = (file: Blob, dryRun: boolean) =>
  http.post<ImportReport>(buildUrl('/api/leads/import', { dry_run: dryRun ? 'true' : 'false' }), undefined, {
    raw: { body: file, contentType: 'text/csv' },
  });

export interface OutboundMessage {
  id: number;
  conversation_id: number;
  status: string;
  text: string;
  created_at: string;
}

export const sendWhatsappToLead = (id: number, text: string) =>
  http.post<OutboundMessage>(`/api/leads/${id}/whatsapp`, { text });
