import { Button, Code, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';

import { type AuditQuery, listAudit } from '../../api/admin';
import { Bdi } from '../../components/Bdi';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, LoadingState } from '../../components/QueryState';
import { useI18n } from '../../i18n';
import { formatDateTime, jerusalemMidnightIso } from '../../lib/format';
import { BusinessName, BusinessPicker } from './BusinessPicker';

const LIMIT = 50;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function positiveInt(text: string): number | undefined {
  const value = Number(text.trim());
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Each detail on its own line: the key, then the value isolated (Hebrew values, ISO dates). */
function AuditDetails({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return <>—</>;
  return (
    <Stack gap={2}>
      {entries.map(([key, value]) => (
        <Text key={key} size="xs" style={{ wordBreak: 'break-word' }}>
          <Code fz="xs">{key}</Code>{' '}
          <bdi>{typeof value !== 'string' ? JSON.stringify(value) : ISO_INSTANT.test(value) ? formatDateTime(value) : value}</bdi>
        </Text>
      ))}
    </Stack>
  );
}

export default function AuditPage() {
  const { t } = useI18n();
  const [action, setAction] = useState('');
  const [businessId, setBusinessId] = useState<number | null>(null);
  const [actor, setActor] = useState('');
  const [impersonationId, setImpersonationId] = useState('');
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  // One debounce per string: a debounced object is new on every render (a render every 300 ms).
  const [debouncedAction] = useDebouncedValue(action, 300);
  const [debouncedActor] = useDebouncedValue(actor, 300);
  const [debouncedImpersonation] = useDebouncedValue(impersonationId, 300);

  const filters: AuditQuery = {
    action: debouncedAction.trim() || undefined,
    business_id: businessId ?? undefined,
    actor_id: positiveInt(debouncedActor),
    impersonation_id: positiveInt(debouncedImpersonation),
    since: since ? jerusalemMidnightIso(since) : undefined,
    // "to date" includes that whole day in Israel.
    until: until ? jerusalemMidnightIso(until, 1) : undefined,
    limit: LIMIT,
  };
  const audit = useInfiniteQuery({
    queryKey: ['admin', 'audit', filters],
    queryFn: ({ pageParam, signal }) => listAudit({ ...filters, before_id: pageParam }, signal),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.next_before_id ?? undefined,
  });
  const rows = audit.data?.pages.flatMap((page) => page.items) ?? [];
  const filtered = Boolean(action || businessId || actor || impersonationId || since || until);

  return (
    <Stack gap="md">
      <PageHeader title={t('audit.title')} />
      <Group gap="sm" wrap="wrap" align="flex-end">
        <TextInput
          label={t('audit.filter.action')}
          placeholder={t('audit.filter.actionPlaceholder')}
          dir="ltr"
          value={action}
          onChange={(event) => setAction(event.currentTarget.value)}
          w={220}
        />
        <BusinessPicker
          label={t('audit.filter.business')}
          clearable
          value={businessId}
          onChange={setBusinessId}
          w={200}
          data-testid="audit-business-filter"
        />
        <TextInput
          label={t('audit.filter.actor')}
          inputMode="numeric"
          dir="ltr"
          value={actor}
          onChange={(event) => setActor(event.currentTarget.value)}
          w={150}
        />
        <TextInput
          label={t('audit.filter.impersonation')}
          inputMode="numeric"
          dir="ltr"
          value={impersonationId}
          onChange={(event) => setImpersonationId(event.currentTarget.value)}
          w={130}
        />
        <TextInput label={t('audit.filter.since')} type="date" value={since} onChange={(event) => setSince(event.currentTarget.value)} w={160} />
        <TextInput label={t('audit.filter.until')} type="date" value={until} onChange={(event) => setUntil(event.currentTarget.value)} w={160} />
        {filtered ? (
          <Button
            variant="subtle"
            onClick={() => {
              setAction('');
              setBusinessId(null);
              setActor('');
              setImpersonationId('');
              setSince('');
              setUntil('');
            }}
          >
            {t('common.clearFilters')}
          </Button>
        ) : null}
      </Group>

      {audit.isPending ? (
        <LoadingState />
      ) : audit.isError && rows.length === 0 ? (
        <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />
      ) : rows.length === 0 ? (
        <Empty title={filtered ? t('state.noResults') : undefined} description={t('audit.empty')} />
      ) : (
        <>
          <Table.ScrollContainer minWidth={1000}>
            <Table striped verticalSpacing="xs" fz="sm" data-testid="audit-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('audit.col.at')}</Table.Th>
                  <Table.Th>{t('audit.col.actor')}</Table.Th>
                  <Table.Th>{t('audit.col.action')}</Table.Th>
                  <Table.Th>{t('audit.col.business')}</Table.Th>
                  <Table.Th>{t('audit.col.target')}</Table.Th>
                  <Table.Th>{t('audit.col.impersonation')}</Table.Th>
                  <Table.Th>{t('audit.col.details')}</Table.Th>
                  <Table.Th>{t('audit.col.ip')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((entry) => (
                  <Table.Tr key={entry.id}>
                    <Table.Td className="nowrap">{formatDateTime(entry.at)}</Table.Td>
                    <Table.Td>
                      {entry.actor_email ? <Bdi>{entry.actor_email}</Bdi> : '—'}
                      {entry.actor_role ? (
                        <Text span c="dimmed" size="xs">
                          {' '}
                          ({entry.actor_role})
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>
                      <Code className="nowrap" dir="ltr">
                        {entry.action}
                      </Code>
                    </Table.Td>
                    <Table.Td className="nowrap">
                      {entry.business_id === null ? '—' : <BusinessName id={entry.business_id} />}
                    </Table.Td>
                    <Table.Td>
                      {entry.target_type ? (
                        <Bdi>
                          {entry.target_type}:{entry.target_id}
                        </Bdi>
                      ) : (
                        '—'
                      )}
                    </Table.Td>
                    <Table.Td>{entry.impersonation_id ?? '—'}</Table.Td>
                    <Table.Td maw={340}>
                      <AuditDetails details={entry.details} />
                    </Table.Td>
                    <Table.Td>{entry.ip ? <Bdi>{entry.ip}</Bdi> : '—'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {audit.isError ? <ErrorState error={audit.error} onRetry={() => void audit.fetchNextPage()} /> : null}
          <Group justify="center">
            {audit.hasNextPage ? (
              <Button variant="light" loading={audit.isFetchingNextPage} onClick={() => void audit.fetchNextPage()}>
                {t('common.loadMore')}
              </Button>
            ) : (
              <Text size="sm" c="dimmed">
                {t('common.noMore')}
              </Text>
            )}
          </Group>
        </>
      )}
    </Stack>
  );
}
