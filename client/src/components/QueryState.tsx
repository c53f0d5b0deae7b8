import { Alert, Button, Center, EmptyState, Group, Loader, Stack, Text } from '@mantine/core';
import type { ReactNode } from 'react';

import { ApiError } from '../api/http';
import { translate, useI18n } from '../i18n';

/** The server's words for an error, with its reason code (never an empty message). */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return translate('errors.network');
    const known = translate(`reason.${error.reason}`, {}, '');
    return `${known || error.serverMessage} (${error.reason})`;
  }
  if (error instanceof Error && error.message) return error.message;
  return translate('errors.unexpected');
}

export function LoadingState({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <Center py="xl" data-testid="loading">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed">{label ?? t('common.loading')}</Text>
      </Group>
    </Center>
  );
}

export function ErrorState({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const { t } = useI18n();
  return (
    <Alert color="red" title={title ?? t('errors.loadFailed')} data-testid="error-state" role="alert">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{errorText(error)}</Text>
        {onRetry ? (
          <Button size="xs" variant="light" color="red" onClick={onRetry}>
            {t('common.retry')}
          </Button>
        ) : null}
      </Stack>
    </Alert>
  );
}

export function Empty({ title, description, action }: { title?: string; description?: ReactNode; action?: ReactNode }) {
  const { t } = useI18n();
  return (
    <EmptyState
      data-testid="empty-state"
      py="xl"
      title={title ?? t('state.emptyTitle')}
      description={description}
      withIndicatorBackground
      icon={<span aria-hidden style={{ fontSize: 22 }}>∅</span>}
    >
      {action ? <EmptyState.Actions>{action}</EmptyState.Actions> : null}
    </EmptyState>
  );
}
