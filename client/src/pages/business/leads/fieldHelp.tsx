import { Anchor } from '@mantine/core';
import { Link } from 'react-router';

import { ApiError } from '../../../api/http';
import type { FieldWarning } from '../../../api/leads';
import { useI18n } from '../../../i18n';

/** 409 duplicate_phone names the lead that already has the number. */
export function duplicateLeadId(error: unknown): number | null {
  if (error instanceof ApiError && error.status === 409 && error.reason === 'duplicate_phone') {
    const id = error.body?.lead_id;
    return typeof id === 'number' ? id : 0;
  }
  return null;
}

export function DuplicatePhone({ leadId, onOpen }: { leadId: number; onOpen?: () => void }) {
  const { t } = useI18n();
  return (
    <span data-testid="duplicate-phone">
      {t('leads.duplicatePhone')}{' '}
      {leadId > 0 ? (
        <Anchor component={Link} to={`/app/leads/${leadId}`} size="xs" onClick={onOpen}>
          {t('leads.openExisting', { id: leadId })}
        </Anchor>
      ) : null}
    </span>
  );
}

/** The server keeps a possible-but-unassigned number, with a warning. */
export function phoneWarning(warnings: FieldWarning[] | undefined): string | null {
  const found = warnings?.find((w) => w.field === 'phone');
  return found ? found.message : null;
}
