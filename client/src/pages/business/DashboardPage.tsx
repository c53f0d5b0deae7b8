import { Anchor, Badge, Button, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';

import { listCalls } from '../../api/calls';
import { listConversations } from '../../api/conversations';
import { listLeads } from '../../api/leads';
import { listReminders } from '../../api/reminders';
import { useCurrentMe } from '../../components/MeContext';
import { tenantKey } from '../../session';

import { PageHeader } from '../../components/PageHeader';
import { ErrorState, LoadingState } from '../../components/QueryState';
import { Trans } from '../../components/Trans';
import { Bdi, Name, PhoneList } from '../../components/Bdi';
import { type MessageKey, useI18n } from '../../i18n';
import { CALL_STATUS_COLOR, isMissed } from '../../lib/calls';
import { formatDateTime, formatTime, jerusalemMidnightIso } from '../../lib/format';
import { israelWallClock } from '../../lib/leadFilters';
import { useNow } from '../../lib/useNow';
import { useStatuses } from './leads/queries';
import { useCurrentBusiness, usePrompt } from './queries';

function ReminderCard() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const overdue = useQuery({
    queryKey: tenantKey(me, 'reminders', 'overdue'),
    queryFn: ({ signal }) => listReminders('overdue', 20, signal),
    refetchInterval: 60_000,
  });
  const today = useQuery({
    queryKey: tenantKey(me, 'reminders', 'today'),
    queryFn: ({ signal }) => listReminders('today', 20, signal),
    refetchInterval: 60_000,
  });
  const now = useNow(30_000);
  const failed = overdue.error ?? today.error;
  // A reminder due earlier today is in both windows: once is enough.
  const items = [...(overdue.data?.items ?? []), ...(today.data?.items ?? [])].filter(
    (reminder, index, all) => all.findIndex((other) => other.id === reminder.id) === index,
  );
  return (
    <Card withBorder padding="lg" radius="md" data-testid="dashboard-reminders">
      <Title order={4} mb="sm">
        {t('dashboard.reminders')}
      </Title>
      {overdue.isPending || today.isPending ? (
        <LoadingState />
      ) : failed ? (
        <ErrorState error={failed} onRetry={() => void Promise.all([overdue.refetch(), today.refetch()])} />
      ) : items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('dashboard.noReminders')}
        </Text>
      ) : (
        <Stack gap={6}>
          {items.slice(0, 8).map((r) => {
            const late = Date.parse(r.due_at) < now;
            return (
              <Group key={r.id} justify="space-between" wrap="nowrap" gap={6} data-testid={`dashboard-reminder-${r.id}`}>
                <div style={{ minWidth: 0 }}>
                  <Anchor component={Link} to={`/app/leads/${r.lead.id}`} size="sm" fw={600}>
                    {r.lead.full_name || (r.lead.phone ? <Bdi>{r.lead.phone}</Bdi> : `#${r.lead.id}`)}
                  </Anchor>
                  {r.text ? (
                    <Text size="xs" c="dimmed" truncate="end">
                      {r.text}
                    </Text>
                  ) : null}
                </div>
                <Badge size="sm" variant="light" color={late ? 'red' : 'indigo'} style={{ flexShrink: 0 }}>
                  {formatTime(r.due_at)}
                </Badge>
              </Group>
            );
          })}
        </Stack>
      )}
    </Card>
  );
}

/** "New leads": the leads still in the pipeline's first status (`new` unless the business renamed
 *  it), where every lead starts, newest first: the ones nobody has handled yet, whenever they came. */
function NewLeadsCard() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const statuses = useStatuses();
  const first = statuses.data?.[0];
  const leads = useQuery({
    queryKey: tenantKey(me, 'leads', 'dashboard-new', first?.key),
    queryFn: ({ signal }) => listLeads({ status: [first!.key], sort: '-created_at' }, undefined, 6, signal),
    enabled: first !== undefined,
    refetchInterval: 60_000,
  });
  const failed = statuses.error ?? leads.error;
  return (
    <Card withBorder padding="lg" radius="md" data-testid="dashboard-new-leads">
      <Group justify="space-between" mb={4}>
        <Title order={4}>{t('dashboard.newLeads')}</Title>
        <Anchor component={Link} to={first ? `/app/leads?status=${encodeURIComponent(first.key)}` : '/app/leads'} size="sm">
          {t('dashboard.allLeads')}
        </Anchor>
      </Group>
      {first ? (
        <Text size="xs" c="dimmed" mb="sm">
          {t('dashboard.newLeadsExplain', { status: first.label })}
        </Text>
      ) : null}
      {failed ? (
        <ErrorState error={failed} onRetry={() => void Promise.all([statuses.refetch(), leads.refetch()])} />
      ) : !leads.data ? (
        <LoadingState />
      ) : leads.data.items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('dashboard.noNewLeads')}
        </Text>
      ) : (
        <Stack gap={6}>
          {leads.data.items.map((lead) => (
            <Group key={lead.id} justify="space-between" wrap="nowrap" gap={6} data-testid={`dashboard-lead-${lead.id}`}>
              <Anchor component={Link} to={`/app/leads/${lead.id}`} size="sm" truncate="end">
                {lead.full_name || (lead.phone ? <Bdi>{lead.phone}</Bdi> : `#${lead.id}`)}
              </Anchor>
              <Text size="xs" c="dimmed" style={{ flexShrink: 0 }}>
                {formatTime(lead.created_at)}
              </Text>
            </Group>
          ))}
        </Stack>
      )}
    </Card>
  );
}

const TODAYS_CALLS = 200;

/** Today's calls (since midnight in Israel): how many, how many to call back, the latest few. */
function CallsCard() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const now = useNow(60_000);
  const day = israelWallClock(new Date(now)).slice(0, 10);
  const calls = useQuery({
    queryKey: tenantKey(me, 'calls', 'dashboard-today', day),
    queryFn: ({ signal }) => listCalls({ started_from: jerusalemMidnightIso(day) }, undefined, signal, TODAYS_CALLS),
    refetchInterval: 60_000,
  });
  const items = calls.data?.items ?? [];
  const more = Boolean(calls.data?.next_cursor);
  const missed = items.filter(isMissed);
  return (
    <Card withBorder padding="lg" radius="md" data-testid="dashboard-calls">
      <Group justify="space-between" mb="sm">
        <Title order={4}>{t('dashboard.calls')}</Title>
        <Anchor component={Link} to="/app/calls" size="sm">
          {t('nav.calls')}
        </Anchor>
      </Group>
      {calls.isPending ? (
        <LoadingState />
      ) : calls.isError ? (
        <ErrorState error={calls.error} onRetry={() => void calls.refetch()} />
      ) : (
        <Stack gap={6}>
          <Group gap="lg">
            <div>
              <Text fz={26} fw={700} lh={1.1} data-testid="calls-today">
                <Bdi>{`${items.length}${more ? '+' : ''}`}</Bdi>
              </Text>
              <Text size="xs" c="dimmed">
                {t('dashboard.callsToday')}
              </Text>
            </div>
            <div>
              <Text fz={26} fw={700} lh={1.1} c={missed.length ? 'red' : undefined} data-testid="calls-missed">
                <Bdi>{`${missed.length}${more ? '+' : ''}`}</Bdi>
              </Text>
              <Text size="xs" c="dimmed">
                {t('dashboard.callsMissed')}
              </Text>
            </div>
          </Group>
          {items.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('dashboard.noCalls')}
            </Text>
          ) : (
            items.slice(0, 5).map((call) => (
              <Group key={call.id} justify="space-between" wrap="nowrap" gap={6} data-testid={`dashboard-call-${call.id}`}>
                <Anchor component={Link} to={`/app/calls?call=${call.id}`} size="sm" truncate="end">
                  {call.caller_name || <Bdi>{call.from_number}</Bdi>}
                </Anchor>
                <Group gap={4} wrap="nowrap" style={{ flexShrink: 0 }}>
                  <Badge size="xs" variant="light" color={isMissed(call) ? 'red' : (CALL_STATUS_COLOR[call.status] ?? 'gray')}>
                    {t(`calls.status.${call.status}` as MessageKey)}
                  </Badge>
                  <Text size="xs" c="dimmed">
                    {formatTime(call.started_at)}
                  </Text>
                </Group>
              </Group>
            ))
          )}
        </Stack>
      )}
    </Card>
  );
}

function WaitingCard() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const unread = useQuery({
    queryKey: tenantKey(me, 'conversations', 'dashboard-unread'),
    queryFn: ({ signal }) => listConversations({ unread: true }, undefined, signal),
    refetchInterval: 60_000,
  });
  return (
    <Card withBorder padding="lg" radius="md" data-testid="dashboard-waiting">
      <Group justify="space-between" mb="sm">
        <Title order={4}>{t('dashboard.waiting')}</Title>
        <Anchor component={Link} to="/app/inbox" size="sm">
          {t('nav.inbox')}
        </Anchor>
      </Group>
      {unread.isPending ? (
        <LoadingState />
      ) : unread.isError ? (
        <ErrorState error={unread.error} onRetry={() => void unread.refetch()} />
      ) : unread.data.items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('dashboard.noneWaiting')}
        </Text>
      ) : (
        <Stack gap={6}>
          {unread.data.items.slice(0, 6).map((c) => (
            <Group key={c.id} justify="space-between" wrap="nowrap" gap={6}>
              <Anchor component={Link} to={`/app/inbox?c=${c.id}`} size="sm" truncate="end">
                {c.customer_name || (c.customer_phone ? <Bdi>{c.customer_phone}</Bdi> : `#${c.id}`)}
              </Anchor>
              <Badge size="sm" color="teal">
                {c.unread_count}
              </Badge>
            </Group>
          ))}
        </Stack>
      )}
    </Card>
  );
}

export default function DashboardPage() {
  const { t } = useI18n();
  const business = useCurrentBusiness();
  const prompt = usePrompt();

  if (business.isPending) return <LoadingState />;
  if (business.isError) return <ErrorState error={business.error} onRetry={() => void business.refetch()} />;
  const b = business.data;

  return (
    <Stack gap="lg">
      <PageHeader title={t('dashboard.title')} description={<Trans k="dashboard.welcome" values={{ business: <Name>{b.name}</Name> }} />} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder padding="lg" radius="md" data-testid="dashboard-numbers">
          <Title order={4} mb="sm">
            {t('dashboard.numbers')}
          </Title>
          {b.voice_numbers.length === 0 && b.whatsapp_numbers.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t('dashboard.noNumbers')}
            </Text>
          ) : (
            <Stack gap={6}>
              <Text size="sm">
                <b>{t('dashboard.voiceNumbers')}:</b> <PhoneList numbers={b.voice_numbers} />
              </Text>
              <Text size="sm">
                <b>{t('dashboard.whatsappNumbers')}:</b> <PhoneList numbers={b.whatsapp_numbers} />
              </Text>
            </Stack>
          )}
        </Card>
        <Card withBorder padding="lg" radius="md" data-testid="dashboard-prompts">
          <Title order={4} mb="sm">
            {t('dashboard.prompts')}
          </Title>
          {prompt.isPending ? (
            <LoadingState />
          ) : prompt.isError ? (
            <ErrorState error={prompt.error} onRetry={() => void prompt.refetch()} />
          ) : (
            <Text size="sm" c="dimmed" mb="sm">
              {prompt.data.version > 0
                ? t('dashboard.promptVersion', { version: prompt.data.version, date: formatDateTime(prompt.data.updated_at) })
                : t('dashboard.promptEmpty')}
            </Text>
          )}
          <Button component={Link} to="/app/prompts" variant="light" size="sm">
            {t('dashboard.editPrompts')}
          </Button>
        </Card>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, sm: 2, xl: 4 }}>
        <ReminderCard />
        <NewLeadsCard />
        <CallsCard />
        <WaitingCard />
      </SimpleGrid>
    </Stack>
  );
}
