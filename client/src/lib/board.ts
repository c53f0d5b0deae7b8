/**
 * The leads board's cache logic, kept apart from React so it can be tested alone.
 *
 * Each column is its own infinite query (GET /api/leads?status=<key>, keyset pages). Moving a card:
 * 1. cancel both columns' fetches (a late response must not undo the move on screen);
 * 2. take the card out of the source column and put it on top of the target (status changed);
 * 3. PATCH /api/leads/<id> {status};
 * 4. on error: put both columns back exactly as they were (the snapshot) and say why;
 *    on success: the server's row replaces the optimistic one; both columns are refetched after.
 *
 * The table's list is an infinite query too. After a write it is never invalidated: a refetch
 * re-reads every loaded page one after the other (50 requests with 10,000 rows). A status change
 * of known rows edits them in place (`withStatus`); a write that adds or reorders rows starts the
 * list again from its first page (queries.ts: useRefreshLeads).
 */
import type { InfiniteData, QueryClient, QueryKey } from '@tanstack/react-query';

import type { Lead, LeadPage } from '../api/leads';

export type ColumnData = InfiniteData<LeadPage, unknown>;

export function columnLeads(data: ColumnData | undefined): Lead[] {
  return data ? uniqueLeads(data.pages) : [];
}

/** The keyset pages in order, each lead once (a page boundary that repeats a row must not show it
 *  twice, nor give React two rows with one key). */
export function uniqueLeads(pages: readonly { items: Lead[] }[]): Lead[] {
  const seen = new Set<number>();
  const out: Lead[] = [];
  for (const page of pages) {
    for (const lead of page.items) {
      if (seen.has(lead.id)) continue;
      seen.add(lead.id);
      out.push(lead);
    }
  }
  return out;
}

export function withoutLead(data: ColumnData, id: number): ColumnData {
  return { ...data, pages: data.pages.map((page) => ({ ...page, items: page.items.filter((lead) => lead.id !== id) })) };
}

/** The lead on top of the column's first page (or replacing itself if it is already there). */
export function withLeadOnTop(data: ColumnData, lead: Lead): ColumnData {
  const cleaned = withoutLead(data, lead.id);
  if (cleaned.pages.length === 0) {
    return { pages: [{ items: [lead], next_cursor: null }], pageParams: [undefined] };
  }
  const [first, ...rest] = cleaned.pages;
  return { ...cleaned, pages: [{ ...first!, items: [lead, ...first!.items] }, ...rest] };
}

/** Replace a lead wherever it is in a column (the server's answer after a move). */
export function replaceLead(data: ColumnData, lead: Lead): ColumnData {
  return {
    ...data,
    pages: data.pages.map((page) => ({
      ...page,
      items: page.items.map((item) => (item.id === lead.id ? lead : item)),
    })),
  };
}

/** Where a card goes with the keyboard: the neighbouring column in reading order, or nowhere. */
export function neighbourStatus(order: string[], current: string, step: -1 | 1): string | null {
  const index = order.indexOf(current);
  if (index < 0) return null;
  return order[index + step] ?? null;
}

export interface MoveContext {
  fromKey: QueryKey;
  toKey: QueryKey;
  before: { from: ColumnData | undefined; to: ColumnData | undefined };
}

/** Steps 1–2: returns what a rollback needs. */
export async function beginMove(
  client: QueryClient,
  fromKey: QueryKey,
  toKey: QueryKey,
  lead: Lead,
  toStatus: string,
): Promise<MoveContext> {
  await Promise.all([client.cancelQueries({ queryKey: fromKey }), client.cancelQueries({ queryKey: toKey })]);
  const before = {
    from: client.getQueryData<ColumnData>(fromKey),
    to: client.getQueryData<ColumnData>(toKey),
  };
  const moved: Lead = { ...lead, status: toStatus, status_changed_at: new Date().toISOString() };
  if (before.from) client.setQueryData<ColumnData>(fromKey, withoutLead(before.from, lead.id));
  client.setQueryData<ColumnData>(toKey, withLeadOnTop(before.to ?? { pages: [], pageParams: [] }, moved));
  return { fromKey, toKey, before };
}

/** Step 4, on error: both columns exactly as they were. */
export function rollbackMove(client: QueryClient, context: MoveContext): void {
  restore(client, context.fromKey, context.before.from);
  restore(client, context.toKey, context.before.to);
}

function restore(client: QueryClient, key: QueryKey, data: ColumnData | undefined): void {
  // setQueryData(key, undefined) is a no-op: a column that had nothing loaded goes back to nothing.
  if (data === undefined) client.removeQueries({ queryKey: key, exact: true });
  else client.setQueryData(key, data);
}

/** Step 4, on success: the server's row (its status_changed_at, updated_at) in the target column. */
export function confirmMove(client: QueryClient, context: MoveContext, saved: Lead): void {
  const current = client.getQueryData<ColumnData>(context.toKey);
  if (current) client.setQueryData<ColumnData>(context.toKey, replaceLead(current, saved));
}

/** Leads `ids` now have `status`: changed in place, or dropped from a list that shows only other
 *  statuses (`shown`: the list's status filter; none: every status). */
export function withStatus(data: ColumnData, ids: ReadonlySet<number>, status: string, shown?: readonly string[]): ColumnData {
  const drop = shown !== undefined && shown.length > 0 && !shown.includes(status);
  const at = new Date().toISOString();
  return {
    ...data,
    pages: data.pages.map((page) => ({
      ...page,
      items: drop
        ? page.items.filter((lead) => !ids.has(lead.id))
        : page.items.map((lead) => (ids.has(lead.id) && lead.status !== status ? { ...lead, status, status_changed_at: at } : lead)),
    })),
  };
}

/** Only the first page (and its cursor to the next): what a list keeps once it is off screen, so
 *  that showing it again reads one page, not all of them. */
export function firstPageOnly(data: ColumnData): ColumnData {
  if (data.pages.length <= 1) return data;
  return { pages: data.pages.slice(0, 1), pageParams: data.pageParams.slice(0, 1) };
}
