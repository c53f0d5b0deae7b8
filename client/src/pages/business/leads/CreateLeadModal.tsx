import { Button, Group, Modal, Select, Stack, TagsInput, Textarea, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';

import { fieldErrors } from '../../../api/http';
import { createLead, type LeadCreate } from '../../../api/leads';
import { Bdi } from '../../../components/Bdi';
import { FormError } from '../../../components/FormError';
import { useI18n } from '../../../i18n';
import { DuplicatePhone, duplicateLeadId, phoneWarning } from './fieldHelp';
import { useRefreshLeads, useStatuses } from './queries';

const EMPTY = { full_name: '', phone: '', email: '', status: null as string | null, tags: [] as string[], notes: '' };

export function CreateLeadModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const statuses = useStatuses();
  const refresh = useRefreshLeads();
  const [form, setForm] = useState(EMPTY);
  const [localError, setLocalError] = useState<string | null>(null);

  const create = useMutation({
    mutationFn: (data: LeadCreate) => createLead(data),
    onSuccess: (lead) => {
      void refresh();
      const warning = phoneWarning(lead.warnings);
      notifications.show({
        color: warning ? 'orange' : 'green',
        title: t('leads.created'),
        message: warning ? `${t('leads.phoneInvalid')} (${warning})` : <Bdi>{lead.phone ?? lead.email ?? ''}</Bdi>,
      });
      setForm(EMPTY);
      onClose();
      navigate(`/app/leads/${lead.id}`);
    },
  });
  const errors = fieldErrors(create.error);
  const existing = duplicateLeadId(create.error);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!form.phone.trim() && !form.email.trim()) {
      setLocalError(t('leads.needPhoneOrEmail'));
      return;
    }
    setLocalError(null);
    create.mutate({
      full_name: form.full_name.trim(),
      phone: form.phone.trim() || null,
      email: form.email.trim() || null,
      status: form.status ?? undefined,
      tags: form.tags,
      notes: form.notes,
      source: 'manual',
    });
  };

  const set = <K extends keyof typeof EMPTY>(key: K, value: (typeof EMPTY)[K]) => {
    if (create.isError) create.reset();
    setForm((current) => ({ ...current, [key]: value }));
  };

  return (
    <Modal opened={opened} onClose={onClose} title={t('leads.new')} size="lg">
      <form onSubmit={submit} data-testid="create-lead-form" noValidate>
        <Stack gap="sm">
          <TextInput label={t('leads.field.name')} value={form.full_name} onChange={(e) => set('full_name', e.currentTarget.value)} error={errors.full_name} data-autofocus />
          <TextInput
            label={t('leads.field.phone')}
            description={t('leads.field.phoneHint')}
            dir="ltr"
            inputMode="tel"
            value={form.phone}
            onChange={(e) => set('phone', e.currentTarget.value)}
            error={existing !== null ? <DuplicatePhone leadId={existing} onOpen={onClose} /> : errors.phone ?? localError}
            data-testid="lead-phone"
          />
          <TextInput label={t('leads.field.email')} dir="ltr" type="email" value={form.email} onChange={(e) => set('email', e.currentTarget.value)} error={errors.email} />
          <Group grow>
            <Select
              label={t('leads.col.status')}
              data={(statuses.data ?? []).map((s) => ({ value: s.key, label: s.label }))}
              value={form.status ?? statuses.data?.[0]?.key ?? null}
              onChange={(value) => set('status', value)}
              error={errors.status}
              allowDeselect={false}
            />
            <TagsInput label={t('leads.col.tags')} value={form.tags} onChange={(value) => set('tags', value)} error={errors.tags} />
          </Group>
          <Textarea label={t('leads.field.notes')} autosize minRows={2} value={form.notes} onChange={(e) => set('notes', e.currentTarget.value)} error={errors.notes} />
          <FormError error={existing !== null ? null : create.error} title={t('leads.saveFailed')} shownFields={['full_name', 'phone', 'email', 'status', 'tags', 'notes']} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={create.isPending} data-testid="save-lead">
              {t('common.create')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
