import { ActionIcon, Badge, Button, Card, Group, Menu, Text, VisuallyHidden } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type DragEvent, type KeyboardEvent, useCallback, useState } from 'react';
import { Link } from 'react-router';

import { type Lead, type LeadFilters, moveLead, type PipelineStatus } from '../../../api/leads';
import { Bdi } from '../../../components/Bdi';
import { useCurrentMe } from '../../../components/MeContext';
import { ErrorState, errorText, LoadingState } from '../../../components/QueryState';
import { useI18n } from '../../../i18n';
import { isolate } from '../../../lib/format';
import { beginMove, columnLeads, confirmMove, type MoveContext, neighbourStatus, rollbackMove } from '../../../lib/board';
import { sourceLabel } from './labels';
import { leadKeys, useApplyStatus, useBoardColumn, useStatuses } from './queries';

const DRAG_TYPE = 'application/x-crm-lead';

interface MoveRequest {
  lead: Lead;
  to: string;
}

export function LeadsBoard({ filters }: { filters: LeadFilters }) {
  const { t, dir } = useI18n();
  const me = useCurrentMe();
  const statuses = useStatuses();
  const client = useQueryClient();
  const applyStatus = useApplyStatus();
  const [announcement, setAnnouncement] = useState('');
  const [dragging, setDragging] = useState<Lead | null>(null);

  const labels = new Map((statuses.data ?? []).map((s) => [s.key, s.label]));
  const label = (key: string) => labels.get(key) ?? key;

  const move = useMutation<Lead, unknown, MoveRequest, MoveContext>({
    mutationFn: ({ lead, to }) => moveLead(lead.id, to),
    onMutate: ({ lead, to }) =>
      beginMove(client, leadKeys.column(me, lead.status, filters), leadKeys.column(me, to, filters), lead, to),
    onError: (error, { lead }, context) => {
      if (context) rollbackMove(client, context);
      notifications.show({
        color: 'red',
        title: t('board.moveFailed', { name: isolate(lead.full_name || lead.phone || `#${lead.id}`) }),
        message: errorText(error),
        autoClose: 8000,
      });
      setAnnouncement(t('board.moveFailed', { name: isolate(lead.full_name || lead.phone || `#${lead.id}`) }));
    },
    onSuccess: (saved, _request, context) => {
      confirmMove(client, context, saved);
      applyStatus([saved.id], saved.status);
    },
    onSettled: (_data, _error, { lead, to }) => {
      // The two columns are short (30 a page): read them again, in the server's order.
      void client.invalidateQueries({ queryKey: leadKeys.column(me, lead.status, filters) });
      void client.invalidateQueries({ queryKey: leadKeys.column(me, to, filters) });
    },
  });

  const request = useCallback(
    (lead: Lead, to: string) => {
      if (lead.status === to) return;
      setAnnouncement(t('board.moved', { name: isolate(lead.full_name || lead.phone || `#${lead.id}`), status: labels.get(to) ?? to }));
      move.mutate({ lead, to });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [move.mutate, statuses.data, t],
  );

  if (statuses.isPending) return <LoadingState />;
  if (statuses.isError) return <ErrorState error={statuses.error} onRetry={() => void statuses.refetch()} />;
  const order = statuses.data.map((s) => s.key);

  return (
    <>
      <Text size="sm" c="dimmed" id="board-help">
        {t('board.help')}
      </Text>
      <VisuallyHidden role="status" aria-live="polite" data-testid="board-announcement">
        {announcement}
      </VisuallyHidden>
      <div className="board" data-testid="leads-board">
        {statuses.data.map((status) => (
          <BoardColumn
            key={status.key}
            status={status}
            statuses={statuses.data}
            filters={filters}
            dragging={dragging}
            setDragging={setDragging}
            onMove={request}
            onKeyMove={(lead, step) => {
              // Arrow keys follow what the eye sees: in Hebrew the next column is to the left.
              const target = neighbourStatus(order, lead.status, step);
              if (!target) return;
              request(lead, target);
              // The card now lives in another column: keep the keyboard on it.
              requestAnimationFrame(() =>
                document.querySelector<HTMLElement>(`[data-testid="board-card-${lead.id}"]`)?.focus(),
              );
            }}
            dir={dir}
            label={label}
          />
        ))}
      </div>
    </>
  );
}

interface ColumnProps {
  status: PipelineStatus;
  statuses: PipelineStatus[];
  filters: LeadFilters;
  dragging: Lead | null;
  setDragging: (lead: Lead | null) => void;
  onMove: (lead: Lead, to: string) => void;
  onKeyMove: (lead: Lead, step: -1 | 1) => void;
  dir: 'rtl' | 'ltr';
  label: (key: string) => string;
}

function BoardColumn({ status, statuses, filters, dragging, setDragging, onMove, onKeyMove, dir, label }: ColumnProps) {
  const { t } = useI18n();
  const column = useBoardColumn(status.key, filters);
  const [over, setOver] = useState(false);
  const leads = columnLeads(column.data);

  const canDrop = dragging !== null && dragging.status !== status.key;
  const onDragOver = (event: DragEvent) => {
    if (!canDrop) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
    if (!over) setOver(true);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const lead = dragging;
    setDragging(null);
    if (lead && lead.status !== status.key) onMove(lead, status.key);
  };

  return (
    <section
      className="board-column"
      aria-label={status.label}
      data-testid={`board-column-${status.key}`}
      data-over={over || undefined}
      onDragOver={onDragOver}
      onDragEnter={onDragOver}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={onDrop}
    >
      <Group justify="space-between" px="sm" pt="sm" pb={4} wrap="nowrap">
        <Text fw={700} size="sm">
          {status.label}
        </Text>
        <Badge variant="light" color={status.kind === 'won' ? 'green' : status.kind === 'lost' ? 'gray' : 'indigo'} size="sm">
          <Bdi>{column.hasNextPage ? `${leads.length}+` : leads.length}</Bdi>
        </Badge>
      </Group>
      <div className="board-cards">
        {column.isPending ? (
          <LoadingState />
        ) : column.isError && leads.length === 0 ? (
          <ErrorState error={column.error} onRetry={() => void column.refetch()} />
        ) : leads.length === 0 ? (
          <Text size="sm" c="dimmed" ta="center" py="md" data-testid="column-empty">
            {t('board.columnEmpty')}
          </Text>
        ) : (
          leads.map((lead) => (
            <BoardCard
              key={lead.id}
              lead={lead}
              statuses={statuses}
              onDragStart={() => setDragging(lead)}
              onDragEnd={() => setDragging(null)}
              onMove={onMove}
              onKeyMove={onKeyMove}
              dir={dir}
              label={label}
            />
          ))
        )}
        {column.hasNextPage ? (
          <Button variant="subtle" size="compact-sm" loading={column.isFetchingNextPage} onClick={() => void column.fetchNextPage()}>
            {t('common.loadMore')}
          </Button>
        ) : null}
      </div>
    </section>
  );
}

interface CardProps {
  lead: Lead;
  statuses: PipelineStatus[];
  onDragStart: () => void;
  onDragEnd: () => void;
  onMove: (lead: Lead, to: string) => void;
  onKeyMove: (lead: Lead, step: -1 | 1) => void;
  dir: 'rtl' | 'ltr';
  label: (key: string) => string;
}

function BoardCard({ lead, statuses, onDragStart, onDragEnd, onMove, onKeyMove, dir, label }: CardProps) {
  const { t } = useI18n();
  const name = lead.full_name || t('leads.noName');
  const onKeyDown = (event: KeyboardEvent) => {
    if (event.target !== event.currentTarget) return;
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    event.preventDefault();
    const forward = dir === 'rtl' ? event.key === 'ArrowLeft' : event.key === 'ArrowRight';
    onKeyMove(lead, forward ? 1 : -1);
  };
  return (
    <Card
      withBorder
      padding="xs"
      radius="md"
      className="board-card"
      draggable
      tabIndex={0}
      aria-describedby="board-help"
      aria-label={`${name}, ${label(lead.status)}`}
      data-testid={`board-card-${lead.id}`}
      onDragStart={(event: DragEvent) => {
        event.dataTransfer.setData(DRAG_TYPE, String(lead.id));
        event.dataTransfer.setData('text/plain', String(lead.id));
        event.dataTransfer.effectAllowed = 'move';
        onDragStart();
      }}
      onDragEnd={onDragEnd}
      onKeyDown={onKeyDown}
    >
      <Group justify="space-between" wrap="nowrap" gap={4} align="flex-start">
        <div style={{ minWidth: 0 }}>
          <Link to={`/app/leads/${lead.id}`} className="leads-name" draggable={false}>
            {name}
          </Link>
          {lead.phone ? (
            <Text size="xs" c="dimmed">
              <Bdi>{lead.phone}</Bdi>
            </Text>
          ) : null}
        </div>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" size="sm" aria-label={t('board.moveMenu', { name })} data-testid={`move-menu-${lead.id}`}>
              ⋮
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Label>{t('board.moveTo')}</Menu.Label>
            {statuses
              .filter((s) => s.key !== lead.status)
              .map((s) => (
                <Menu.Item key={s.key} onClick={() => onMove(lead, s.key)} data-testid={`move-to-${s.key}`}>
                  {s.label}
                </Menu.Item>
              ))}
          </Menu.Dropdown>
        </Menu>
      </Group>
      <Group gap={4} mt={6}>
        <Badge size="xs" variant="outline" color="gray">
          {t(sourceLabel(lead.source))}
        </Badge>
        {lead.tags.slice(0, 3).map((tag) => (
          <Badge key={tag} size="xs" variant="light">
            {tag}
          </Badge>
        ))}
      </Group>
    </Card>
  );
}

