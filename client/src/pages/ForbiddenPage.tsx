import { Button, Container, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

import { useI18n } from '../i18n';

export function ForbiddenPage() {
  const { t } = useI18n();
  return (
    <Container size="sm" py="xl" data-testid="forbidden-page">
      <Stack align="center" gap="md">
        <Text fz={48} fw={700} c="red.7">
          403
        </Text>
        <Title order={2}>{t('forbidden.title')}</Title>
        <Text c="dimmed">{t('forbidden.body')}</Text>
        <Button component={Link} to="/">
          {t('forbidden.home')}
        </Button>
      </Stack>
    </Container>
  );
}
