import { Anchor, Badge, Button, Card, Grid, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';

import { type Call, getCall, listCalls } from '../../api/calls';
import { Bdi } from '../../components/Bdi';
import { useCurrentMe } from '../../components/MeContext';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, LoadingState } from '../../components/QueryState';
import { type MessageKey, useI18n } from '../../i18n';
import { CALL_STATUS_COLOR, formatDuration } from '../../lib/calls';
import { formatDateTime } from '../../lib/format';
import { tenantKey } from '../../session';

export default function CallsPage() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const [params, setParams] = useSearchParams();
  const selected = Number(params.get('call')) || null;
  const [phone, setPhone] = useState('');
  const [debounced] = useDebouncedValue(phone.trim(), 300);
  const filters = { from_number: debounced || undefined };
  const calls = useInfiniteQuery({
    queryKey: tenantKey(me, 'calls', filters),
    queryFn: ({ pageParam, signal }) => listCalls(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: 30_000,
  });
  const rows = calls.data?.pages.flatMap((p) => p.items) ?? [];
  const select = (id: number) => setParams({ call: String(id) }, { replace: true });

  return (
    <Stack gap="md">
      <PageHeader title={t('nav.calls')} description={t('calls.explain')} />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, lg: selected ? 7 : 12 }}>
          <Stack gap="sm">
            <TextInput label={t('calls.filterPhone')} dir="ltr" value={phone} onChange={(e) => setPhone(e.currentTarget.value)} w={240} />
            {calls.isPending ? (
              <LoadingState />
            ) : calls.isError && rows.length === 0 ? (
              <ErrorState error={calls.error} onRetry={() => void calls.refetch()} />
            ) : rows.length === 0 ? (
              <Empty title={debounced ? t('state.noResults') : undefined} description={t('calls.empty')} />
            ) : (
              <>
                <Table.ScrollContainer minWidth={720}>
                  <Table highlightOnHover verticalSpacing="xs" fz="sm" data-testid="calls-table">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>{t('calls.col.started')}</Table.Th>
                        <Table.Th>{t('calls.col.from')}</Table.Th>
                        <Table.Th>{t('calls.col.name')}</Table.Th>
                        <Table.Th>{t('calls.col.status')}</Table.Th>
                        <Table.Th>{t('calls.col.duration')}</Table.Th>
                        <Table.Th>{t('calls.col.lead')}</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {rows.map((call) => (
                        <CallRow key={call.id} call={call} active={call.id === selected} onSelect={select} />
                      ))}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
                {calls.hasNextPage ? (
                  <Button variant="light" size="xs" loading={calls.isFetchingNextPage} onClick={() => void calls.fetchNextPage()}>
                    {t('common.loadMore')}
                  </Button>
                ) : null}
              </>
            )}
          </Stack>
        </Grid.Col>
        {selected ? (
          <Grid.Col span={{ base: 12, lg: 5 }}>
            <CallDetailCard id={selected} onClose={() => setParams({}, { replace: true })} />
          </Grid.Col>
        ) : null}
      </Grid>
    </Stack>
  );
}

function CallRow({ call, active, onSelect }: { call: Call; active: boolean; onSelect: (id: number) => void }) {
  const { t } = useI18n();
  return (
    <Table.Tr
      onClick={() => onSelect(call.id)}
      style={{ cursor: 'pointer' }}
      bg={active ? 'var(--mantine-color-indigo-0)' : undefined}
      data-testid={`call-${call.id}`}
    >
      <Table.Td>
        <Anchor component="button" type="button" size="sm" onClick={() => onSelect(call.id)}>
          {formatDateTime(call.started_at)}
        </Anchor>
      </Table.Td>
      <Table.Td>
        <Bdi>{call.from_number}</Bdi>
      </Table.Td>
      <Table.Td>{call.caller_name || '—'}</Table.Td>
      <Table.Td>
        <Badge size="sm" variant="light" color={CALL_STATUS_COLOR[call.status] ?? 'gray'}>
          {t(`calls.status.${call.status}` as MessageKey)}
        </Badge>
      </Table.Td>
      <Table.Td>
        <Bdi>{formatDuration(call.duration_seconds)}</Bdi>
      </Table.Td>
      <Table.Td onClick={(e) => e.stopPropagation()}>
        {call.lead_id ? (
          <Anchor component={Link} to={`/app/leads/${call.lead_id}`} size="sm">
            {t('calls.openLead')}
          </Anchor>
        ) : (
          '—'
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function CallDetailCard({ id, onClose }: { id: number; onClose: () => void }) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const call = useQuery({ queryKey: tenantKey(me, 'calls', 'one', id), queryFn: ({ signal }) => getCall(id, signal) });
  return (
    <Card withBorder padding="lg" radius="md" data-testid="call-detail">
      <Group justify="space-between" mb="sm">
        <Title order={4}>{t('calls.transcript')}</Title>
        <Button size="compact-sm" variant="subtle" onClick={onClose}>
          {t('common.close')}
        </Button>
      </Group>
      {call.isPending ? (
        <LoadingState />
      ) : call.isError ? (
        <ErrorState error={call.error} onRetry={() => void call.refetch()} />
      ) : (
        <Stack gap="sm">
          <Text size="sm">
            <Bdi>{call.data.from_number}</Bdi> · {formatDateTime(call.data.started_at)} · <Bdi>{formatDuration(call.data.duration_seconds)}</Bdi>
          </Text>
          {call.data.end_reason ? (
            <Text size="xs" c="dimmed">
              {t('calls.endReason')}: <bdi>{call.data.end_reason}</bdi>
            </Text>
          ) : null}
          {call.data.transcript.length === 0 ? (
            <Empty description={t('calls.noTranscript')} />
          ) : (
            <div className="thread" style={{ maxHeight: 520 }}>
              {call.data.transcript.map((turn, index) => (
                <div
                  key={index}
                  className="bubble"
                  data-dir={turn.speaker === 'caller' ? 'inbound' : 'outbound'}
                  style={turn.speaker === 'system' ? { alignSelf: 'center', background: 'var(--mantine-color-yellow-0)' } : undefined}
                >
                  <Text size="xs" c="dimmed">
                    {t(`calls.speaker.${turn.speaker}` as MessageKey)} · <bdi>{formatDuration(Math.floor(turn.at_ms / 1000))}</bdi>
                    {turn.interrupted ? ` · ${t('calls.interrupted')}` : ''}
                  </Text>
                  <Text size="sm">{turn.text}</Text>
                </div>
              ))}
            </div>
          )}
        </Stack>
      )}
    </Card>
  );
}
