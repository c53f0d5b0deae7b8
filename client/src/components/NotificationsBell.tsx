import { ActionIcon, Button, Group, Indicator, Popover, ScrollArea, Stack, Text, UnstyledButton } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';

import { type AppNotification, listNotifications, markAllNotificationsRead, markNotification } from '../api/reminders';
import { useI18n } from '../i18n';
import { formatDateTime } from '../lib/format';
import { tenantKey } from '../session';
import { useCurrentMe } from './MeContext';
import { Empty, ErrorState, errorText, LoadingState } from './QueryState';

export const POLL_MS = 30_000;

function BellIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden>
      <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
    </svg>
  );
}

/** The header's bell: unread reminders and the like, polled every 30 seconds. */
export function NotificationsBell() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [opened, setOpened] = useState(false);
  const key = tenantKey(me, 'notifications');
  const list = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => listNotifications(20, signal),
    refetchInterval: POLL_MS,
    refetchIntervalInBackground: false,
    staleTime: 10_000,
  });
  const refresh = () => void client.invalidateQueries({ queryKey: key });
  const markOne = useMutation({ mutationFn: (n: AppNotification) => markNotification(n.id, true), onSettled: refresh });
  const markAll = useMutation({ mutationFn: markAllNotificationsRead, onSettled: refresh });
  const unread = list.data?.unread_count ?? 0;

  const open = (n: AppNotification) => {
    if (!n.read) markOne.mutate(n);
    setOpened(false);
    if (n.lead_id) navigate(`/app/leads/${n.lead_id}`);
  };

  return (
    <Popover opened={opened} onChange={setOpened} position="bottom-end" width={340} shadow="md" withinPortal>
      <Popover.Target>
        <Indicator label={unread > 99 ? '99+' : unread} size={16} color="red" disabled={unread === 0} offset={4} data-testid="bell-count">
          <ActionIcon
            variant="subtle"
            size="lg"
            onClick={() => setOpened((o) => !o)}
            aria-label={t('bell.label', { count: unread })}
            data-testid="bell"
          >
            <BellIcon />
          </ActionIcon>
        </Indicator>
      </Popover.Target>
      <Popover.Dropdown p={0} data-testid="bell-panel">
        <Group justify="space-between" p="sm" pb={6}>
          <Text fw={700} size="sm">
            {t('bell.title')}
          </Text>
          <Button size="compact-xs" variant="subtle" disabled={unread === 0} loading={markAll.isPending} onClick={() => markAll.mutate()} data-testid="bell-read-all">
            {t('bell.readAll')}
          </Button>
        </Group>
        {markAll.error || markOne.error ? (
          <Text size="xs" c="red" px="sm">
            {errorText(markAll.error ?? markOne.error)}
          </Text>
        ) : null}
        {list.isPending ? (
          <LoadingState />
        ) : list.isError ? (
          <div style={{ padding: 8 }}>
            <ErrorState error={list.error} onRetry={() => void list.refetch()} />
          </div>
        ) : list.data.items.length === 0 ? (
          <Empty description={t('bell.empty')} />
        ) : (
          <ScrollArea.Autosize mah={380}>
            <Stack gap={0}>
              {list.data.items.map((n) => (
                <UnstyledButton
                  key={n.id}
                  onClick={() => open(n)}
                  px="sm"
                  py={8}
                  style={{
                    borderTop: '1px solid var(--mantine-color-gray-2)',
                    background: n.read ? undefined : 'var(--mantine-color-indigo-0)',
                  }}
                  data-testid={`notification-${n.id}`}
                  data-read={n.read}
                >
                  <Text size="sm" fw={n.read ? 400 : 700}>
                    {n.title}
                  </Text>
                  {n.body ? (
                    <Text size="xs" c="dimmed" lineClamp={2}>
                      {n.body}
                    </Text>
                  ) : null}
                  <Text size="xs" c="dimmed">
                    {formatDateTime(n.created_at)}
                  </Text>
                </UnstyledButton>
              ))}
            </Stack>
          </ScrollArea.Autosize>
        )}
      </Popover.Dropdown>
    </Popover>
  );
}
