import { Alert, Badge, Button, Card, Checkbox, Group, Menu, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import { fieldErrors } from '../../../api/http';
import { createReminder, type Reminder, type ReminderPatch, updateReminder } from '../../../api/reminders';
import { useCurrentMe } from '../../../components/MeContext';
import { Empty, ErrorState, errorText, LoadingState } from '../../../components/QueryState';
import { useI18n } from '../../../i18n';
import { formatDateTime } from '../../../lib/format';
import { useNow } from '../../../lib/useNow';
import { israelWallClock, jerusalemLocalToIso } from '../../../lib/leadFilters';
import { tenantKey } from '../../../session';
import { leadKeys, useLeadReminders } from './queries';

/** Tomorrow at 09:00, Israel time, as a datetime-local value. */
export function defaultDue(now = new Date()): string {
  const tomorrow = israelWallClock(new Date(now.getTime() + 24 * 3600_000));
  return `${tomorrow.slice(0, 10)}T09:00`;
}

export function RemindersCard({ leadId }: { leadId: number }) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const client = useQueryClient();
  const reminders = useLeadReminders(leadId);
  const now = useNow(30_000);
  const [due, setDue] = useState(defaultDue);
  const [text, setText] = useState('');
  const [localError, setLocalError] = useState<string | null>(null);
  const [moving, setMoving] = useState<number | null>(null);

  const refresh = () => {
    void client.invalidateQueries({ queryKey: leadKeys.reminders(me, leadId) });
    void client.invalidateQueries({ queryKey: leadKeys.lead(me, leadId) });
    void client.invalidateQueries({ queryKey: tenantKey(me, 'reminders') });
  };
  const create = useMutation({
    mutationFn: (body: { due_at: string; text: string }) => createReminder(leadId, body),
    onSuccess: (reminder) => {
      setText('');
      notifications.show({ color: 'green', message: t('reminders.created', { date: formatDateTime(reminder.due_at) }) });
      refresh();
    },
  });
  // Snooze or reschedule: a failure shows in a toast (and under the reschedule form).
  const patch = useMutation({
    mutationFn: ({ reminder, body }: { reminder: Reminder; body: ReminderPatch }) => updateReminder(leadId, reminder.id, body),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: 'red', title: t('reminders.updateFailed'), message: errorText(error) }),
  });
  const errors = fieldErrors(create.error);

  const submit = () => {
    const iso = jerusalemLocalToIso(due);
    if (!iso) {
      setLocalError(t('reminders.dueRequired'));
      return;
    }
    setLocalError(null);
    create.mutate({ due_at: iso, text: text.trim() });
  };

  const items = reminders.data?.items ?? [];
  const open = items.filter((r) => !r.done).sort((a, b) => a.due_at.localeCompare(b.due_at));
  const done = items.filter((r) => r.done);

  return (
    <Card withBorder padding="lg" radius="md" data-testid="reminders-card">
      <Title order={4} mb="sm">
        {t('reminders.title')}
      </Title>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
      >
        <Stack gap={6} mb="md">
          <Group align="flex-start" wrap="wrap" gap="xs">
            <TextInput
              w={230}
              type="datetime-local"
              label={t('reminders.due')}
              value={due}
              onChange={(e) => setDue(e.currentTarget.value)}
              error={localError ?? errors.due_at}
              data-testid="reminder-due"
            />
            <TextInput
              style={{ flex: 1, minWidth: 180 }}
              label={t('reminders.text')}
              placeholder={t('reminders.textPlaceholder')}
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
              error={errors.text}
              maxLength={2000}
              data-testid="reminder-text"
            />
          </Group>
          {create.error && !errors.due_at && !errors.text ? (
            <Alert color="red" py={6}>
              {errorText(create.error)}
            </Alert>
          ) : null}
          <Group justify="space-between">
            <Text size="xs" c="dimmed">
              {t('reminders.israelTime')}
            </Text>
            <Button type="submit" size="xs" loading={create.isPending} data-testid="add-reminder">
              {t('reminders.add')}
            </Button>
          </Group>
        </Stack>
      </form>
      {reminders.isPending ? (
        <LoadingState />
      ) : reminders.isError ? (
        <ErrorState error={reminders.error} onRetry={() => void reminders.refetch()} />
      ) : items.length === 0 ? (
        <Empty description={t('reminders.empty')} />
      ) : (
        <Stack gap="xs" data-testid="reminder-list">
          {[...open, ...done].map((reminder) => {
            const overdue = !reminder.done && Date.parse(reminder.due_at) < now;
            return (
              <Stack key={reminder.id} gap={4} data-testid={`reminder-${reminder.id}`}>
                <Group justify="space-between" wrap="nowrap" align="flex-start">
                  <Checkbox
                    checked={reminder.done}
                    onChange={(e) => patch.mutate({ reminder, body: { done: e.currentTarget.checked } })}
                    label={
                      <div>
                        <Text size="sm" td={reminder.done ? 'line-through' : undefined} fw={500}>
                          {formatDateTime(reminder.due_at)}{' '}
                          {overdue ? (
                            <Badge size="xs" color="red" variant="light">
                              {t('reminders.overdue')}
                            </Badge>
                          ) : null}
                        </Text>
                        {reminder.text ? (
                          <Text size="sm" c={reminder.done ? 'dimmed' : undefined}>
                            {reminder.text}
                          </Text>
                        ) : null}
                      </div>
                    }
                    aria-label={t('reminders.markDone')}
                  />
                  {reminder.done ? null : (
                    <Menu position="bottom-end">
                      <Menu.Target>
                        <Button size="compact-xs" variant="subtle" data-testid={`reminder-menu-${reminder.id}`}>
                          {t('reminders.snooze')}
                        </Button>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item onClick={() => patch.mutate({ reminder, body: { snooze_minutes: 60 } })}>{t('reminders.snooze1h')}</Menu.Item>
                        <Menu.Item onClick={() => patch.mutate({ reminder, body: { snooze_minutes: 24 * 60 } })}>{t('reminders.snooze1d')}</Menu.Item>
                        <Menu.Item onClick={() => patch.mutate({ reminder, body: { snooze_minutes: 7 * 24 * 60 } })}>{t('reminders.snooze1w')}</Menu.Item>
                        <Menu.Divider />
                        <Menu.Item onClick={() => setMoving(reminder.id)} data-testid={`reminder-reschedule-${reminder.id}`}>
                          {t('reminders.reschedule')}
                        </Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  )}
                </Group>
                {moving === reminder.id ? (
                  <Reschedule
                    reminder={reminder}
                    saving={patch.isPending}
                    error={patch.variables?.reminder.id === reminder.id ? patch.error : null}
                    onSave={(due_at) =>
                      patch.mutate({ reminder, body: { due_at } }, { onSuccess: () => setMoving(null) })
                    }
                    onCancel={() => {
                      setMoving(null);
                      patch.reset();
                    }}
                  />
                ) : null}
              </Stack>
            );
          })}
        </Stack>
      )}
    </Card>
  );
}

/** A new date and time for a reminder (PATCH {due_at}), Israel's wall clock. */
function Reschedule({
  reminder,
  saving,
  error,
  onSave,
  onCancel,
}: {
  reminder: Reminder;
  saving: boolean;
  error: unknown;
  onSave: (dueAt: string) => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const [due, setDue] = useState(() => israelWallClock(new Date(reminder.due_at)));
  const [invalid, setInvalid] = useState(false);
  const save = () => {
    const iso = jerusalemLocalToIso(due);
    setInvalid(!iso);
    if (iso) onSave(iso);
  };
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
      data-testid={`reschedule-form-${reminder.id}`}
    >
      <Group align="flex-end" gap="xs" wrap="wrap">
        <TextInput
          size="xs"
          w={210}
          type="datetime-local"
          label={t('reminders.newDue')}
          value={due}
          onChange={(event) => setDue(event.currentTarget.value)}
          error={invalid ? t('reminders.dueRequired') : fieldErrors(error).due_at}
          data-testid={`reschedule-due-${reminder.id}`}
          data-autofocus
        />
        <Button type="submit" size="xs" loading={saving} data-testid={`reschedule-save-${reminder.id}`}>
          {t('common.save')}
        </Button>
        <Button size="xs" variant="default" onClick={onCancel}>
          {t('common.cancel')}
        </Button>
      </Group>
    </form>
  );
}
