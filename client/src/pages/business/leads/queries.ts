import { type Query, type QueryKey, useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo } from 'react';

import type { Me } from '../../../api/auth';
import { getLead, getStatuses, type LeadFilters, listLeads } from '../../../api/leads';
import { leadReminders } from '../../../api/reminders';
import { useCurrentMe } from '../../../components/MeContext';
import { type ColumnData, firstPageOnly, withStatus } from '../../../lib/board';
import { tenantKey } from '../../../session';

export const TABLE_PAGE = 200;
export const BOARD_PAGE = 30;

export const leadKeys = {
  all: (me: Me) => tenantKey(me, 'leads'),
  statuses: (me: Me) => tenantKey(me, 'leads', 'statuses'),
  list: (me: Me, filters: LeadFilters) => tenantKey(me, 'leads', 'list', filters),
  column: (me: Me, status: string, filters: LeadFilters) => tenantKey(me, 'leads', 'board', status, filters),
  lead: (me: Me, id: number) => tenantKey(me, 'leads', 'one', id),
  reminders: (me: Me, id: number) => tenantKey(me, 'leads', 'one', id, 'reminders'),
};

export function useStatuses() {
  const me = useCurrentMe();
  return useQuery({
    queryKey: leadKeys.statuses(me),
    queryFn: ({ signal }) => getStatuses(signal),
    staleTime: 5 * 60_000,
    select: (data) => [...data.statuses].sort((a, b) => a.position - b.position),
  });
}

/** key → label of the business's pipeline (the key itself until it loads). */
export function useStatusLabels(): (key: string) => string {
  const statuses = useStatuses();
  return useMemo(() => {
    const labels = new Map((statuses.data ?? []).map((s) => [s.key, s.label]));
    return (key: string) => labels.get(key) ?? key;
  }, [statuses.data]);
}

export function useLeadList(filters: LeadFilters) {
  const me = useCurrentMe();
  const queryKey = leadKeys.list(me, filters);
  useFirstPageWhenHidden(queryKey);
  return useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam, signal }) => listLeads(filters, pageParam, TABLE_PAGE, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useBoardColumn(status: string, filters: LeadFilters) {
  const me = useCurrentMe();
  const columnFilters = { ...filters, status: [status] };
  return useInfiniteQuery({
    queryKey: leadKeys.column(me, status, filters),
    queryFn: ({ pageParam, signal }) => listLeads(columnFilters, pageParam, BOARD_PAGE, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
}

export function useLead(id: number) {
  const me = useCurrentMe();
  return useQuery({ queryKey: leadKeys.lead(me, id), queryFn: ({ signal }) => getLead(id, signal), staleTime: 0 });
}

export function useLeadReminders(id: number) {
  const me = useCurrentMe();
  return useQuery({ queryKey: leadKeys.reminders(me, id), queryFn: ({ signal }) => leadReminders(id, signal) });
}

// tenantKey(me, 'leads', <kind>, ...): the kinds that are infinite lists.
const LISTS = new Set(['list', 'board']);
const isList = (query: Query) => LISTS.has(String(query.queryKey[3]));

/**
 * After a write that can add, remove or reorder leads (create, import, an edit): every leads list
 * and board column starts again from its first page (one request for each one on screen, none
 * for the others until shown), and the rest (open leads, the dashboard) is refetched. Not
 * invalidateQueries on the lists: that re-reads every page they loaded, one after the other.
 */
export function useRefreshLeads() {
  const me = useCurrentMe();
  const client = useQueryClient();
  return () =>
    Promise.all([
      client.resetQueries({ queryKey: leadKeys.all(me), predicate: isList }),
      client.invalidateQueries({ queryKey: leadKeys.all(me), predicate: (query) => !isList(query) }),
    ]);
}

/** After leads changed status (bulk, a board move): their rows change in place in every loaded
 *  table list, which is not read again; open leads and the dashboard are refetched. */
export function useApplyStatus() {
  const me = useCurrentMe();
  const client = useQueryClient();
  return (ids: readonly number[], status: string) => {
    const moved = new Set(ids);
    for (const [key, data] of client.getQueriesData<ColumnData>({ queryKey: [...leadKeys.all(me), 'list'] })) {
      if (!data) continue;
      const filters = (key[4] ?? {}) as LeadFilters;
      client.setQueryData<ColumnData>(key, withStatus(data, moved, status, filters.status));
    }
    void client.invalidateQueries({ queryKey: leadKeys.all(me), predicate: (query) => !isList(query) });
  };
}

/** While mounted, the list is shown; once it is not, only its first page is kept. */
export function useFirstPageWhenHidden(queryKey: QueryKey) {
  const client = useQueryClient();
  const hash = JSON.stringify(queryKey);
  useEffect(
    () => () => {
      const data = client.getQueryData<ColumnData>(queryKey);
      if (data) client.setQueryData<ColumnData>(queryKey, firstPageOnly(data));
    },
    // The key's content, not its identity (a new array each render).
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [client, hash],
  );
}
