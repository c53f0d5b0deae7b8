import { Badge, Stack } from '@mantine/core';

import { type MessageKey, useI18n } from '../i18n';
import { PageHeader } from './PageHeader';
import { Empty } from './QueryState';

/** A page whose API is still being built: says so plainly, shows no made-up rows. */
export function ComingSoon({ title, body }: { title: MessageKey; body: MessageKey }) {
  const { t } = useI18n();
  return (
    <Stack gap="md" data-testid="coming-soon">
      <PageHeader title={t(title)} actions={<Badge variant="light" color="gray">{t('comingSoon.title')}</Badge>} />
      <Empty title={t('comingSoon.title')} description={t(body)} />
    </Stack>
  );
}
