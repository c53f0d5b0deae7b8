import { http } from './http';

export interface Reminder {
  id: number;
  business_id: number;
  lead_id: number;
  due_at: string;
  text: string;
  assignee_id: number | null;
  created_by_id: number | null;
  created_at: string;
  updated_at: string;
  done: boolean;
  done_at: string | null;
  done_by_id: number | null;
  fired_at: string | null;
  fired_count: number;
  snoozed_count: number;
}

export interface ReminderListItem extends Reminder {
  lead: { id: number; full_name: string; phone: string | null };
}

export interface ReminderList {
  items: ReminderListItem[];
  next_cursor: string | null;
  timezone: string;
  window_start: string | null;
  window_end: string | null;
}

export type DueWindow = 'overdue' | 'today' | 'upcoming';

export interface ReminderCreate {
  /** ISO 8601 with an offset (the server refuses a naive time). */
  due_at: string;
  text?: string;
  assignee_id?: number | null;
}

export type ReminderPatch =
  | { done: boolean }
  | { snooze_minutes: number }
  | { due_at: string; text?: string };

export interface AppNotification {
  id: number;
  kind: string;
  title: string;
  body: string;
  user_id: number;
  lead_id: number | null;
  reminder_id: number | null;
  created_at: string;
  read_at: string | null;
  read: boolean;
  times_raised: number;
}

export interface NotificationList {
  items: AppNotification[];
  unread_count: number;
  next_cursor: string | null;
}

export const leadReminders = (leadId: number, signal?: AbortSignal) =>
  http.get<{ items: Reminder[] }>(`/api/leads/${leadId}/reminders`, undefined, signal);
export const createReminder = (leadId: number, data: ReminderCreate) =>
  http.post<Reminder>(`/api/leads/${leadId}/reminders`, data);
export const updateReminder = (leadId: number, reminderId: number, data: ReminderPatch) =>
  http.patch<Reminder>(`/api/leads/${leadId}/reminders/${reminderId}`, data);
export const listReminders = (due: DueWindow, limit = 20, signal?: AbortSignal) =>
  http.get<ReminderList>('/api/reminders', { due, limit }, signal);

export const listNotifications = (limit = 20, signal?: AbortSignal) =>
  http.get<NotificationList>('/api/notifications', { limit }, signal);
export const markNotification = (id: number, read: boolean) =>
  http.patch<AppNotification>(`/api/notifications/${id}`, { read });
export const markAllNotificationsRead = () =>
  http.post<{ updated: number; unread_count: number }>('/api/notifications/read-all');
