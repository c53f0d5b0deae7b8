import { http } from './http';

export interface Message {
  id: number;
  conversation_id: number;
  direction: 'in' | 'out' | string;
  author: string;
  sent_by_id: number | null;
  kind: string;
  text: string;
  media: Record<string, unknown>[] | null;
  template: Record<string, unknown> | null;
  status: string;
  error_code: string | null;
  error_message: string | null;
  provider: string;
  provider_message_id: string | null;
  attempts: number;
  created_at: string;
  status_at: string | null;
}

export interface Conversation {
  id: number;
  customer_name: string;
  customer_phone: string | null;
  customer_user_id: string | null;
  lead_id: number | null;
  provider: string;
  ai_paused: boolean;
  paused_at: string | null;
  paused_by_id: number | null;
  unread_count: number;
  last_read_at: string | null;
  last_message_at: string;
  last_inbound_at: string | null;
  last_preview: string;
  has_failed: boolean;
  // Set while the customer hides the number behind a WhatsApp username: no lead until it appears.
  no_lead_reason: string | null;
  window_open: boolean;
  window_ends_at: string | null;
}

export interface ConversationDetail extends Conversation {
  messages: Message[];
  older_before_id: number | null;
}

export interface ConversationFilters {
  unread?: boolean;
  ai_paused?: boolean;
  failed?: boolean;
  q?: string;
}

export const listConversations = (filters: ConversationFilters, cursor: string | undefined, signal?: AbortSignal) =>
  http.get<{ items: Conversation[]; next_cursor: string | null }>(
    '/api/conversations',
    {
      unread: filters.unread || undefined,
      ai_paused: filters.ai_paused || undefined,
      failed: filters.failed || undefined,
      q: filters.q,
      cursor,
      limit: 30,
    },
    signal,
  );
export const getConversation = (id: number, beforeId?: number, signal?: AbortSignal) =>
  http.get<ConversationDetail>(`/api/conversations/${id}`, { before_id: beforeId, limit: 50 }, signal);
export const sendMessage = (id: number, text: string) => http.post<Message>(`/api/conversations/${id}/messages`, { text });
export const sendTemplate = (id: number, name: string, language: string, params: string[]) =>
  http.post<Message>(`/api/conversations/${id}/template`, { name, language, params });
// A failed message sent again, or a failed AI reply asked for again (the same row comes back queued).
export const retryMessage = (id: number, messageId: number) =>
  http.post<Message>(`/api/conversations/${id}/messages/${messageId}/retry`);
export const pauseAi = (id: number) => http.post<Conversation>(`/api/conversations/${id}/pause`);
export const resumeAi = (id: number) => http.post<Conversation>(`/api/conversations/${id}/resume`);
export const markConversationRead = (id: number) => http.post<Conversation>(`/api/conversations/${id}/read`);
