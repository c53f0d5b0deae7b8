import { Anchor, Badge, Button, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';

import { listConversations } from '../../api/conversations';
import { listLeads } from '../../api/leads';
import { listReminders } from '../../api/reminders';
import { useCurrentMe } from '../../components/MeContext';
import { tenantKey } from '../../session';

import { PageHeader } from '../../components/PageHeader';
import { ErrorState, LoadingState } from '../../components/QueryState';
import { Trans } from '../../components/Trans';
import { Bdi, Name, PhoneList } from '../../components/Bdi';
import { useI18n } from '../../i18n';
import { formatDateTime, formatTime } from '../../lib/format';
import { useNow } from '../../lib/useNow';
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
  const items = [...(overdue.data?.items ?? []), ...(today.data?.items ?? [])];
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
              <Group key={r.id} justify="space-between" wrap="nowrap" gap={6}>
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

function NewLeadsCard() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const leads = useQuery({
    queryKey: tenantKey(me, 'leads', 'dashboard-new'),
    queryFn: ({ signal }) => listLeads({ sort: '-created_at' }, undefined, 6, signal),
  });
  return (
    <Card withBorder padding="lg" radius="md" data-testid="dashboard-new-leads">
      <Group justify="space-between" mb="sm">
        <Title order={4}>{t('dashboard.newLeads')}</Title>
        <Anchor component={Link} to="/app/leads" size="sm">
          {t('dashboard.allLeads')}
        </Anchor>
      </Group>
      {leads.isPending ? (
        <LoadingState />
      ) : leads.isError ? (
        <ErrorState error={leads.error} onRetry={() => void leads.refetch()} />
      ) : leads.data.items.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('dashboard.noLeads')}
        </Text>
      ) : (
        <Stack gap={6}>
          {leads.data.items.map((lead) => (
            <Group key={lead.id} justify="space-between" wrap="nowrap" gap={6}>
              <Anchor component={Link} to={`/app/leads/${lead.id}`} size="sm" truncate="end">
                {lead.full_name || (lead.phone ? <Bdi>{lead.phone}</Bdi> : `#${lead.id}`)}
              </Anchor>
              <Text size="xs" c="dimmed" style={{ flexShrink: 0 }}>
                {formatDateTime(lead.created_at)}
              </Text>
            </Group>
          ))}
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
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <ReminderCard />
        <NewLeadsCard />
        <WaitingCard />
      </SimpleGrid>
    </Stack>
  );
}
