import { Button, Container, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';

import { useI18n } from '../i18n';

export default function NotFoundPage() {
  const { t } = useI18n();
  return (
    <Container size="sm" py="xl">
      <Stack align="center" gap="md">
        <Text fz={48} fw={700} c="dimmed">
          404
        </Text>
        <Title order={2}>{t('notFound.title')}</Title>
        <Button component={Link} to="/">
          {t('notFound.home')}
        </Button>
      </Stack>
    </Container>
  );
}
