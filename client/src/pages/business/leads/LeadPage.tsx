import { Alert, Anchor, Badge, Button, Card, Grid, Group, Select, Stack, TagsInput, Text, Textarea, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, useParams } from 'react-router';

import { ApiError, fieldErrors } from '../../../api/http';
import { addNote, type LeadDetail, type LeadEvent, type LeadPatch, sendWhatsappToLead, updateLead } from '../../../api/leads';
import { Bdi, Name } from '../../../components/Bdi';
import { FormError } from '../../../components/FormError';
import { useCurrentMe } from '../../../components/MeContext';
import { PageHeader } from '../../../components/PageHeader';
import { Empty, ErrorState, errorText, LoadingState } from '../../../components/QueryState';
import { type MessageKey, useI18n } from '../../../i18n';
import { formatDateTime } from '../../../lib/format';
import { DuplicatePhone, duplicateLeadId, phoneWarning } from './fieldHelp';
import { sourceLabel } from './labels';
import { leadKeys, useLead, useRefreshLeads, useStatuses, useStatusLabels } from './queries';
import { RemindersCard } from './RemindersCard';

export default function LeadPage() {
  const { t } = useI18n();
  const params = useParams();
  const id = Number(params.leadId);
  const lead = useLead(id);

  if (!Number.isInteger(id) || id <= 0) return <Empty title={t('notFound.title')} />;
  if (lead.isPending) return <LoadingState />;
  if (lead.isError) {
    return (
      <Stack>
        <Anchor component={Link} to="/app/leads">
          {t('lead.back')}
        </Anchor>
        <ErrorState
          error={lead.error}
          title={lead.error instanceof ApiError && lead.error.status === 404 ? t('lead.notFound') : undefined}
          onRetry={() => void lead.refetch()}
        />
      </Stack>
    );
  }
  const data = lead.data;
  return (
    <Stack gap="md" data-testid="lead-page">
      <Anchor component={Link} to="/app/leads" size="sm">
        {t('lead.back')}
      </Anchor>
      <PageHeader
        title={data.full_name || t('leads.noName')}
        description={
          <>
            {data.phone ? <Bdi>{data.phone}</Bdi> : null}
            {data.phone && data.email ? ' · ' : null}
            {data.email ? <Bdi>{data.email}</Bdi> : null}
          </>
        }
        actions={<Badge variant="light">{t(sourceLabel(data.source))}</Badge>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack gap="lg">
            {/* A new form per saved version: the inputs start from what the server has. */}
            <LeadFields key={data.updated_at} lead={data} />
            <WhatsappCard lead={data} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Stack gap="lg">
            <RemindersCard leadId={data.id} />
            <Timeline lead={data} />
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

interface Draft {
  full_name: string;
  phone: string;
  email: string;
  status: string;
  tags: string[];
  notes: string;
}

function draftOf(lead: LeadDetail): Draft {
  return {
    full_name: lead.full_name,
    phone: lead.phone ?? '',
    email: lead.email ?? '',
    status: lead.status,
    tags: lead.tags,
    notes: lead.notes,
  };
}

/** Only what changed goes to the server (PATCH). */
export function patchOf(lead: LeadDetail, draft: Draft): LeadPatch {
  const patch: LeadPatch = {};
  if (draft.full_name.trim() !== lead.full_name) patch.full_name = draft.full_name.trim();
  if (draft.phone.trim() !== (lead.phone ?? '')) patch.phone = draft.phone.trim() || null;
  if (draft.email.trim() !== (lead.email ?? '')) patch.email = draft.email.trim() || null;
  if (draft.status !== lead.status) patch.status = draft.status;
  if (draft.tags.join('\u0000') !== lead.tags.join('\u0000')) patch.tags = draft.tags;
  if (draft.notes !== lead.notes) patch.notes = draft.notes;
  return patch;
}

function LeadFields({ lead }: { lead: LeadDetail }) {
  const { t } = useI18n();
  const refresh = useRefreshLeads();
  const statuses = useStatuses();
  const [draft, setDraft] = useState<Draft>(() => draftOf(lead));
  const [warning, setWarning] = useState<string | null>(null);
  const patch = patchOf(lead, draft);
  const dirty = Object.keys(patch).length > 0;

  const save = useMutation({
    mutationFn: (body: LeadPatch) => updateLead(lead.id, body),
    onSuccess: (saved) => {
      const found = phoneWarning(saved.warnings);
      setWarning(found);
      notifications.show({ color: found ? 'orange' : 'green', message: found ? `${t('lead.savedWithWarning')} (${found})` : t('lead.saved') });
      void refresh();
    },
  });
  const errors = fieldErrors(save.error);
  const existing = duplicateLeadId(save.error);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    if (save.isError) save.reset();
    setDraft((current) => ({ ...current, [key]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (dirty) save.mutate(patch);
  };

  const invalidPhone = lead.phone && !lead.phone_valid;
  return (
    <Card withBorder padding="lg" radius="md">
      <form onSubmit={submit} data-testid="lead-form" noValidate>
        <Stack gap="sm">
          <Title order={4}>{t('lead.details')}</Title>
          <TextInput label={t('leads.field.name')} name="full_name" value={draft.full_name} onChange={(e) => set('full_name', e.currentTarget.value)} error={errors.full_name} />
          <TextInput
            label={t('leads.field.phone')}
            name="phone"
            dir="ltr"
            inputMode="tel"
            description={t('leads.field.phoneHint')}
            value={draft.phone}
            onChange={(e) => set('phone', e.currentTarget.value)}
            error={existing !== null ? <DuplicatePhone leadId={existing} /> : errors.phone}
            data-testid="lead-phone"
          />
          {warning || invalidPhone ? (
            <Alert color="orange" variant="light" py={6} data-testid="phone-warning">
              <Text size="sm">
                {t('leads.phoneInvalid')}
                {warning ? (
                  <>
                    {' '}
                    (<bdi>{warning}</bdi>)
                  </>
                ) : null}
              </Text>
            </Alert>
          ) : null}
          <TextInput label={t('leads.field.email')} name="email" dir="ltr" value={draft.email} onChange={(e) => set('email', e.currentTarget.value)} error={errors.email} />
          <Group grow align="flex-start">
            <Select
              label={t('leads.col.status')}
              data={(statuses.data ?? []).map((s) => ({ value: s.key, label: s.label }))}
              value={draft.status}
              onChange={(value) => value && set('status', value)}
              allowDeselect={false}
              error={errors.status}
              data-testid="lead-status"
            />
            <TagsInput label={t('leads.col.tags')} value={draft.tags} onChange={(value) => set('tags', value)} error={errors.tags} />
          </Group>
          <Textarea label={t('leads.field.notes')} autosize minRows={3} maxRows={12} value={draft.notes} onChange={(e) => set('notes', e.currentTarget.value)} error={errors.notes} />
          <FormError
            error={existing !== null ? null : save.error}
            title={t('leads.saveFailed')}
            shownFields={['full_name', 'phone', 'email', 'status', 'tags', 'notes']}
          />
          <Group justify="space-between">
            <Text size="xs" c="dimmed">
              {t('lead.createdAt', { date: formatDateTime(lead.created_at) })} · {t('lead.updatedAt', { date: formatDateTime(lead.updated_at) })}
            </Text>
            <Group gap="xs">
              {dirty ? (
                <Button variant="subtle" onClick={() => setDraft(draftOf(lead))}>
                  {t('common.cancel')}
                </Button>
              ) : null}
              <Button type="submit" disabled={!dirty} loading={save.isPending} data-testid="save-lead-fields">
                {t('common.save')}
              </Button>
            </Group>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function WhatsappCard({ lead }: { lead: LeadDetail }) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const client = useQueryClient();
  const [text, setText] = useState('');
  const send = useMutation({
    mutationFn: (body: string) => sendWhatsappToLead(lead.id, body),
    onSuccess: () => {
      setText('');
      notifications.show({ color: 'green', message: t('lead.whatsappQueued') });
      void client.invalidateQueries({ queryKey: leadKeys.lead(me, lead.id) });
    },
  });
  const outside = send.error instanceof ApiError && send.error.reason === 'outside_24h_window' ? send.error : null;
  const lastInbound = outside && typeof outside.body?.last_inbound_at === 'string' ? outside.body.last_inbound_at : null;
  const conversationId = outside && typeof outside.body?.conversation_id === 'number' ? outside.body.conversation_id : null;

  return (
    <Card withBorder padding="lg" radius="md" data-testid="whatsapp-card">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (text.trim()) send.mutate(text.trim());
        }}
      >
        <Stack gap="sm">
          <Title order={4}>{t('lead.whatsapp')}</Title>
          {!lead.phone ? (
            <Text size="sm" c="dimmed">
              {t('lead.whatsappNoPhone')}
            </Text>
          ) : null}
          <Textarea
            label={t('lead.whatsappText')}
            autosize
            minRows={2}
            maxRows={8}
            value={text}
            onChange={(e) => {
              if (send.isError) send.reset();
              setText(e.currentTarget.value);
            }}
            disabled={!lead.phone}
            maxLength={4096}
            data-testid="whatsapp-text"
          />
          {outside ? (
            <Alert color="orange" title={t('lead.window.title')} data-testid="outside-24h">
              <Stack gap={4}>
                <Text size="sm">{t('lead.window.explain')}</Text>
                <Text size="sm">
                  {lastInbound ? t('lead.window.last', { date: formatDateTime(lastInbound) }) : t('lead.window.never')}
                </Text>
                <Text size="sm">{t('lead.window.template')}</Text>
                {conversationId ? (
                  <Anchor component={Link} to={`/app/inbox?c=${conversationId}`} size="sm">
                    {t('lead.window.openConversation')}
                  </Anchor>
                ) : null}
              </Stack>
            </Alert>
          ) : send.error ? (
            <Alert color="red" title={t('lead.whatsappFailed')} role="alert">
              {errorText(send.error)}
            </Alert>
          ) : null}
          <Group justify="flex-end">
            <Button type="submit" disabled={!text.trim() || !lead.phone} loading={send.isPending} color="teal" data-testid="whatsapp-send">
              {t('lead.whatsappSend')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

const EVENT_LABELS: Record<string, MessageKey> = {
  created: 'timeline.created',
  updated: 'timeline.updated',
  status_changed: 'timeline.status_changed',
  note_added: 'timeline.note_added',
  reminder_set: 'timeline.reminder_set',
  reminder_done: 'timeline.reminder_done',
  whatsapp_queued: 'timeline.whatsapp_queued',
  whatsapp_sent: 'timeline.whatsapp_sent',
  call_linked: 'timeline.call_linked',
  conversation_linked: 'timeline.conversation_linked',
  merged: 'timeline.merged',
  deleted: 'timeline.deleted',
  restored: 'timeline.restored',
};

function EventBody({ event }: { event: LeadEvent }) {
  const { t } = useI18n();
  const label = useStatusLabels();
  const data = event.data;
  if (event.kind === 'status_changed' && typeof data.to === 'string') {
    return (
      <Text size="sm">{t('timeline.statusMove', { from: label(String(data.from ?? '')), to: label(data.to) })}</Text>
    );
  }
  if (event.kind === 'updated' && data.changes && typeof data.changes === 'object') {
    return (
      <Text size="sm" c="dimmed">
        {Object.keys(data.changes as object)
          .map((field) => t(`leads.field.${field}` as MessageKey))
          .join(', ')}
      </Text>
    );
  }
  if (event.kind === 'call_linked' && typeof data.call_id === 'number') {
    return (
      <Anchor component={Link} to={`/app/calls?call=${data.call_id}`} size="sm">
        {t('timeline.openCall')}
      </Anchor>
    );
  }
  if (event.kind === 'conversation_linked' && typeof data.conversation_id === 'number') {
    return (
      <Anchor component={Link} to={`/app/inbox?c=${data.conversation_id}`} size="sm">
        {t('timeline.openConversation')}
      </Anchor>
    );
  }
  if (event.text) {
    return (
      <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
        {event.text}
      </Text>
    );
  }
  return null;
}

function Timeline({ lead }: { lead: LeadDetail }) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const client = useQueryClient();
  const [note, setNote] = useState('');
  const add = useMutation({
    mutationFn: (text: string) => addNote(lead.id, text),
    onSuccess: () => {
      setNote('');
      void client.invalidateQueries({ queryKey: leadKeys.lead(me, lead.id) });
    },
  });
  const events = [...lead.timeline].reverse();
  return (
    <Card withBorder padding="lg" radius="md" data-testid="timeline">
      <Title order={4} mb="sm">
        {t('lead.timeline')}
      </Title>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (note.trim()) add.mutate(note.trim());
        }}
      >
        <Stack gap={6} mb="md">
          <Textarea
            placeholder={t('lead.notePlaceholder')}
            aria-label={t('lead.addNote')}
            autosize
            minRows={2}
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
            error={fieldErrors(add.error).text ?? (add.error ? errorText(add.error) : undefined)}
            data-testid="note-text"
          />
          <Group justify="flex-end">
            <Button type="submit" size="xs" disabled={!note.trim()} loading={add.isPending} data-testid="add-note">
              {t('lead.addNote')}
            </Button>
          </Group>
        </Stack>
      </form>
      {events.length === 0 ? (
        <Empty description={t('lead.timelineEmpty')} />
      ) : (
        <Stack gap={0}>
          {events.map((event) => (
            <div key={event.id} className="timeline-item" style={{ padding: '8px 0' }} data-kind={event.kind}>
              <Group justify="space-between" gap={4} wrap="nowrap">
                <Text size="sm" fw={600}>
                  {EVENT_LABELS[event.kind] ? t(EVENT_LABELS[event.kind]!) : event.kind}
                </Text>
                <Text size="xs" c="dimmed">
                  {formatDateTime(event.at)}
                </Text>
              </Group>
              <EventBody event={event} />
              {event.actor ? (
                <Text size="xs" c="dimmed">
                  <Name>{event.actor.full_name || event.actor.email}</Name>
                </Text>
              ) : null}
            </div>
          ))}
        </Stack>
      )}
    </Card>
  );
}
