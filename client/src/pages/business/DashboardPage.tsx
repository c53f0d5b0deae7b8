import { Badge, Button, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

import { PageHeader } from '../../components/PageHeader';
import { ErrorState, LoadingState } from '../../components/QueryState';
import { Trans } from '../../components/Trans';
import { Bdi, PhoneList } from '../../components/Bdi';
import { type MessageKey, useI18n } from '../../i18n';
import { formatDateTime } from '../../lib/format';
import { useCurrentBusiness, usePrompt } from './queries';

function PendingModule({ title, to, link }: { title: MessageKey; to: string; link: MessageKey }) {
  const { t } = useI18n();
  return (
    <Card withBorder padding="lg" radius="md">
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{t(title)}</Text>
        <Badge variant="light" color="gray">
          {t('comingSoon.title')}
        </Badge>
      </Group>
      <Text size="sm" c="dimmed" mb="sm">
        {t('comingSoon.widget')}
      </Text>
      <Button component={Link} to={to} variant="subtle" size="compact-sm">
        {t(link)}
      </Button>
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
      <PageHeader title={t('dashboard.title')} description={<Trans k="dashboard.welcome" values={{ business: <Bdi>{b.name}</Bdi> }} />} />
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
        <PendingModule title="dashboard.reminders" to="/app/leads" link="nav.leads" />
        <PendingModule title="dashboard.newLeads" to="/app/leads" link="nav.leads" />
        <PendingModule title="dashboard.waiting" to="/app/inbox" link="nav.inbox" />
      </SimpleGrid>
    </Stack>
  );
}
