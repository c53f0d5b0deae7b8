import { Box, Button, Group, Text, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { useNavigate } from 'react-router';

import { exitImpersonation } from '../api/admin';
import { fetchMe, type Me } from '../api/auth';
import { useI18n } from '../i18n';
import { formatRemaining } from '../lib/format';
import { useNow } from '../lib/useNow';
import { meKey } from '../session';
import { errorText } from './QueryState';
import { Bdi, Name } from './Bdi';
import { Trans } from './Trans';

export const BANNER_HEIGHT = 44;

/** Start or end of impersonation: the tenant's cached rows go, and the session is read anew. */
export async function reloadSession(queryClient: ReturnType<typeof useQueryClient>): Promise<Me> {
  queryClient.removeQueries({ queryKey: ['tenant'] });
  const me = await fetchMe();
  queryClient.setQueryData(meKey, me);
  return me;
}

/** "צופה כ־<business> · יציאה" and the time left; rendered in the fixed header on every page. */
export function ImpersonationBanner({ me }: { me: Me }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const now = useNow(1000);
  const expiresAt = me.impersonation ? new Date(me.impersonation.expires_at).getTime() : null;
  const remaining = expiresAt === null ? null : expiresAt - now;
  const expired = remaining !== null && remaining <= 0;
  const askedAfterExpiry = useRef(false);

  const exit = useMutation({
    mutationFn: exitImpersonation,
    onSuccess: async () => {
      await reloadSession(queryClient);
      navigate('/admin/businesses', { replace: true });
    },
    onError: (error) =>
      notifications.show({ color: 'red', title: t('impersonation.exitFailed'), message: errorText(error) }),
  });

  useEffect(() => {
    // The server ends an expired impersonation when it sees it; read the session again once.
    if (expired && !askedAfterExpiry.current) {
      askedAfterExpiry.current = true;
      notifications.show({ color: 'orange', message: t('impersonation.expired') });
      void queryClient.invalidateQueries({ queryKey: meKey });
    }
  }, [expired, queryClient, t]);

  const business = me.impersonation?.business.name ?? me.tenant?.name ?? `#${me.tenant_id ?? ''}`;
  return (
    <Box
      data-testid="impersonation-banner"
      role="status"
      aria-live="polite"
      h={BANNER_HEIGHT}
      px="md"
      bg="orange.8"
      c="white"
      style={{ display: 'flex', alignItems: 'center', justifyContent: 'center' }}
    >
      <Group gap={8} wrap="nowrap">
        <Tooltip
          label={`${t('impersonation.reasonLabel')}: ${me.impersonation?.reason ?? ''}`}
          disabled={!me.impersonation?.reason}
        >
          <Text fw={700} size="sm" truncate="end" maw="50vw">
            <Trans k="impersonation.banner" values={{ business: <Name>{business}</Name> }} />
          </Text>
        </Tooltip>
        <Text aria-hidden>·</Text>
        <Button
          size="compact-sm"
          variant="white"
          color="orange.9"
          onClick={() => exit.mutate()}
          loading={exit.isPending}
          data-testid="impersonation-exit"
        >
          {t('impersonation.exit')}
        </Button>
        {remaining !== null ? (
          <>
            <Text aria-hidden>·</Text>
            <Text size="sm" data-testid="impersonation-remaining" style={{ fontVariantNumeric: 'tabular-nums' }}>
              {expired ? (
                t('impersonation.expired')
              ) : (
                <Trans k="impersonation.remaining" values={{ time: <Bdi>{formatRemaining(remaining)}</Bdi> }} />
              )}
            </Text>
          </>
        ) : null}
      </Group>
    </Box>
  );
}
