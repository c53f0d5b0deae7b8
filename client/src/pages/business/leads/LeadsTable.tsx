import { Badge, Button, Checkbox, Group, Paper, Select, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link } from 'react-router';

import { bulkStatus, type Lead, type LeadFilters } from '../../../api/leads';
import { Bdi } from '../../../components/Bdi';
import { Empty, ErrorState, errorText, LoadingState } from '../../../components/QueryState';
import { useI18n } from '../../../i18n';
import { uniqueLeads } from '../../../lib/board';
import { formatDateTime } from '../../../lib/format';
import { sourceLabel } from './labels';
import { useApplyStatus, useLeadList, useRefreshLeads, useStatuses, useStatusLabels } from './queries';

const ROW_HEIGHT = 44;
const COLUMNS = '44px minmax(160px, 1.4fr) 150px minmax(160px, 1.2fr) 130px 110px minmax(120px, 1fr) 140px';
/** The server takes at most 1,000 ids per bulk request. */
const BULK_CHUNK = 1000;

export function LeadsTable({ filters, filtered }: { filters: LeadFilters; filtered: boolean }) {
  const { t } = useI18n();
  const list = useLeadList(filters);
  const statuses = useStatuses();
  const statusLabel = useStatusLabels();
  const applyStatus = useApplyStatus();
  const refresh = useRefreshLeads();
  const rows = useMemo(() => uniqueLeads(list.data?.pages ?? []), [list.data]);
  const [selected, setSelected] = useState<Set<number>>(() => new Set());
  const [bulkTarget, setBulkTarget] = useState<string | null>(null);
  const scrollRef = useRef<HTMLDivElement>(null);

  // A new filter is a new list: what was selected is no longer on screen.
  const filterKey = JSON.stringify(filters);
  const [selectionFor, setSelectionFor] = useState(filterKey);
  if (selectionFor !== filterKey) {
    setSelectionFor(filterKey);
    setSelected(new Set());
  }

  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualiser is meant to be used this way
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1]!.index : -1;

  const { hasNextPage, isFetchingNextPage, fetchNextPage } = list;
  useEffect(() => {
    // Near the end of what is loaded: the next keyset page.
    if (lastIndex >= rows.length - 30 && hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [lastIndex, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const toggle = useCallback((id: number, on: boolean) => {
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }, []);

  const bulk = useMutation({
    mutationFn: async ({ ids, status }: { ids: number[]; status: string }) => {
      let updated = 0;
      for (let i = 0; i < ids.length; i += BULK_CHUNK) {
        updated += (await bulkStatus(ids.slice(i, i + BULK_CHUNK), status)).updated;
      }
      return updated;
    },
    onSuccess: (updated, { ids, status }) => {
      // The rows change where they are (the list is not read again: see lib/board.ts).
      applyStatus(ids, status);
      notifications.show({ color: 'green', message: t('leads.bulk.done', { count: updated, status: statusLabel(status) }) });
      setSelected(new Set());
      setBulkTarget(null);
    },
    onError: (error) => {
      // Some chunks may have been saved: read the lists again, from their first page.
      void refresh();
      notifications.show({ color: 'red', title: t('leads.bulk.failed'), message: errorText(error) });
    },
  });

  if (list.isPending) return <LoadingState />;
  if (list.isError && rows.length === 0) return <ErrorState error={list.error} onRetry={() => void list.refetch()} />;
  if (rows.length === 0) {
    return <Empty title={filtered ? t('state.noResults') : undefined} description={t(filtered ? 'leads.emptyFiltered' : 'leads.empty')} />;
  }

  const allSelected = selected.size > 0 && selected.size === rows.length;

  return (
    <Stack gap={8}>
      {selected.size > 0 ? (
        <Paper withBorder p="xs" data-testid="bulk-bar">
          <Group gap="sm">
            <Text size="sm" fw={600}>
              {t('leads.bulk.selected', { count: selected.size })}
            </Text>
            <Select
              placeholder={t('leads.bulk.moveTo')}
              aria-label={t('leads.bulk.moveTo')}
              data={(statuses.data ?? []).map((s) => ({ value: s.key, label: s.label }))}
              value={bulkTarget}
              onChange={setBulkTarget}
              size="xs"
              w={180}
              data-testid="bulk-status"
            />
            <Button
              size="xs"
              disabled={!bulkTarget}
              loading={bulk.isPending}
              onClick={() => bulkTarget && bulk.mutate({ ids: [...selected], status: bulkTarget })}
              data-testid="bulk-apply"
            >
              {t('leads.bulk.apply')}
            </Button>
            <Button size="xs" variant="subtle" onClick={() => setSelected(new Set())}>
              {t('leads.bulk.clear')}
            </Button>
          </Group>
        </Paper>
      ) : null}
      <div className="leads-table-scroll" ref={scrollRef} data-testid="leads-table" role="table" aria-rowcount={rows.length + 1}>
        <div className="leads-row leads-head" role="row" style={{ gridTemplateColumns: COLUMNS }}>
          <div role="columnheader">
            <Checkbox
              aria-label={t('leads.selectAll')}
              checked={allSelected}
              indeterminate={selected.size > 0 && !allSelected}
              onChange={(event) => setSelected(event.currentTarget.checked ? new Set(rows.map((r) => r.id)) : new Set())}
              size="xs"
            />
          </div>
          <div role="columnheader">{t('leads.col.name')}</div>
          <div role="columnheader">{t('leads.col.phone')}</div>
          <div role="columnheader">{t('leads.col.email')}</div>
          <div role="columnheader">{t('leads.col.status')}</div>
          <div role="columnheader">{t('leads.col.source')}</div>
          <div role="columnheader">{t('leads.col.tags')}</div>
          <div role="columnheader">{t('leads.col.created')}</div>
        </div>
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }} role="rowgroup">
          {items.map((item) => {
            const lead = rows[item.index]!;
            return (
              <LeadRow
                key={lead.id}
                lead={lead}
                top={item.start}
                index={item.index}
                selected={selected.has(lead.id)}
                onToggle={toggle}
                status={statusLabel(lead.status)}
              />
            );
          })}
        </div>
      </div>
      <Group justify="space-between" data-testid="leads-footer">
        <Text size="sm" c="dimmed" data-testid="leads-loaded">
          {t('leads.loaded', { count: rows.length.toLocaleString('en-US') })}
        </Text>
        {list.isError ? <Text size="sm" c="red">{errorText(list.error)}</Text> : null}
        {hasNextPage ? (
          <Button variant="light" size="xs" loading={isFetchingNextPage} onClick={() => void fetchNextPage()} data-testid="load-more">
            {t('common.loadMore')}
          </Button>
        ) : (
          <Text size="sm" c="dimmed">
            {t('common.noMore')}
          </Text>
        )}
      </Group>
    </Stack>
  );
}

interface RowProps {
  lead: Lead;
  top: number;
  index: number;
  selected: boolean;
  status: string;
  onToggle: (id: number, on: boolean) => void;
}

const LeadRow = memo(function LeadRow({ lead, top, index, selected, status, onToggle }: RowProps) {
  const { t } = useI18n();
  return (
    <div
      className="leads-row"
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-selected={selected || undefined}
      data-lead-id={lead.id}
      style={{ gridTemplateColumns: COLUMNS, transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
    >
      <div role="cell">
        <Checkbox
          aria-label={t('leads.selectRow', { name: lead.full_name || lead.phone || String(lead.id) })}
          checked={selected}
          onChange={(event) => onToggle(lead.id, event.currentTarget.checked)}
          size="xs"
        />
      </div>
      <div role="cell" className="leads-cell-clip">
        <Link to={`/app/leads/${lead.id}`} className="leads-name">
          {lead.full_name || t('leads.noName')}
        </Link>
      </div>
      <div role="cell" className="leads-cell-clip">
        {lead.phone ? <Bdi>{lead.phone}</Bdi> : '—'}
        {lead.phone && !lead.phone_valid ? (
          <span className="leads-warn" title={t('leads.phoneInvalid')}>
            {' '}⚠
          </span>
        ) : null}
      </div>
      <div role="cell" className="leads-cell-clip">
        {lead.email ? <Bdi>{lead.email}</Bdi> : '—'}
      </div>
      <div role="cell">
        <Badge variant="light" size="sm">
          {status}
        </Badge>
      </div>
      <div role="cell" className="leads-cell-clip">
        {t(sourceLabel(lead.source))}
      </div>
      <div role="cell" className="leads-cell-clip">
        {lead.tags.join(', ') || '—'}
      </div>
      <div role="cell" className="leads-cell-clip">
        {formatDateTime(lead.created_at)}
      </div>
    </div>
  );
});
