import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';

import type { Me } from '../../../api/auth';
import { getLead, getStatuses, type LeadFilters, listLeads } from '../../../api/leads';
import { leadReminders } from '../../../api/reminders';
import { useCurrentMe } from '../../../components/MeContext';
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
  return useInfiniteQuery({
    queryKey: leadKeys.list(me, filters),
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

/** After a write: every leads list, column and open lead of this tenant is refetched when shown. */
export function useInvalidateLeads() {
  const me = useCurrentMe();
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: leadKeys.all(me) });
}
