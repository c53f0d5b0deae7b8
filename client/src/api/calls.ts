import { http } from './http';

export interface Call {
  id: number;
  business_id: number;
  call_sid: string;
  from_number: string;
  to_number: string;
  direction: string;
  caller_name: string;
  status: string;
  ai_outcome: string;
  end_reason: string | null;
  started_at: string;
  ended_at: string | null;
  duration_seconds: number | null;
  lead_id: number | null;
}

export interface Turn {
  speaker: 'caller' | 'agent' | 'system';
  text: string;
  at_ms: number;
  kind: string;
  interrupted: boolean;
  heard_ms: number | null;
}

export interface CallDetail extends Call {
  stream_sid: string | null;
  transcript: Turn[];
  captured: Record<string, unknown>;
  ai_usage: Record<string, unknown>;
  status_events: Record<string, unknown>[];
}

export interface CallPage {
  items: Call[];
  next_cursor: string | null;
}

export interface CallFilters {
  status?: string[];
  from_number?: string;
  lead_id?: number;
  /** ISO 8601 with an offset (the server refuses a naive time). */
  started_from?: string;
}

export const listCalls = (filters: CallFilters, cursor: string | undefined, signal?: AbortSignal, limit = 50) =>
  http.get<CallPage>('/api/calls', { ...filters, cursor, limit }, signal);
export const getCall = (id: number, signal?: AbortSignal) => http.get<CallDetail>(`/api/calls/${id}`, undefined, signal);
