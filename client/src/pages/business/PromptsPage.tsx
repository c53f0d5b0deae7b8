import {
  Accordion,
  Alert,
  Badge,
  Box,
  Button,
  Card,
  Grid,
  Group,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { useHotkeys } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

import { PROMPT_MAX_CHARS, type Prompt, type PromptPair, type PromptVersion, savePrompt } from '../../api/business';
import { fieldErrors } from '../../api/http';
import { Bdi } from '../../components/Bdi';
import { ConfirmModal } from '../../components/ConfirmModal';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, errorText, LoadingState } from '../../components/QueryState';
import { useI18n } from '../../i18n';
import { charCount, formatDateTime } from '../../lib/format';
import { usePrompt, usePromptHistory, usePromptKeys } from './queries';

type Field = keyof PromptPair;
const FIELDS: Field[] = ['calls_prompt', 'whatsapp_prompt'];

function samePair(a: PromptPair, b: PromptPair): boolean {
  return a.calls_prompt === b.calls_prompt && a.whatsapp_prompt === b.whatsapp_prompt;
}

function pairOf(source: PromptPair): PromptPair {
  return { calls_prompt: source.calls_prompt, whatsapp_prompt: source.whatsapp_prompt };
}

export default function PromptsPage() {
  const { t } = useI18n();
  const prompt = usePrompt();
  const [draft, setDraft] = useState<PromptPair | null>(null);

  return (
    <Stack gap="md">
      <PageHeader title={t('prompts.title')} description={t('prompts.explain')} />
      {prompt.isPending ? (
        <LoadingState />
      ) : prompt.isError ? (
        <ErrorState error={prompt.error} onRetry={() => void prompt.refetch()} />
      ) : (
        <Grid gap="lg">
          <Grid.Col span={{ base: 12, lg: 8 }}>
            <PromptEditor saved={prompt.data} draft={draft} setDraft={setDraft} />
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 4 }}>
            <PromptHistoryList current={prompt.data} setDraft={setDraft} />
          </Grid.Col>
        </Grid>
      )}
    </Stack>
  );
}

interface DraftProps {
  /** The unsaved edits (null: the editor shows what the server stored). */
  draft: PromptPair | null;
  setDraft: (draft: PromptPair | null) => void;
}

function PromptEditor({ saved, draft, setDraft }: { saved: Prompt } & DraftProps) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const keys = usePromptKeys();
  const [lastSaved, setLastSaved] = useState<Prompt | null>(null);
  const value = draft ?? pairOf(saved);
  const dirty = !samePair(value, saved);
  const counts = { calls_prompt: charCount(value.calls_prompt), whatsapp_prompt: charCount(value.whatsapp_prompt) };
  const tooLong = FIELDS.some((field) => counts[field] > PROMPT_MAX_CHARS);

  const save = useMutation({
    mutationFn: (pair: PromptPair) => savePrompt(pair),
    onSuccess: (stored) => {
      queryClient.setQueryData(keys.prompt, stored);
      void queryClient.invalidateQueries({ queryKey: keys.history });
      setLastSaved(stored);
      setDraft(null);
    },
  });
  const errors = fieldErrors(save.error);

  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const canSave = dirty && !tooLong && !save.isPending;
  const submit = () => {
    if (canSave) save.mutate(value);
  };
  useHotkeys([['mod+S', submit]], []);

  const edit = (field: Field, text: string) => {
    if (save.isError || save.isSuccess) save.reset();
    setDraft({ ...value, [field]: text });
  };

  let status: { color: string; text: string };
  if (save.isPending) status = { color: 'blue', text: t('common.saving') };
  else if (save.isError) status = { color: 'red', text: t('prompts.saveFailed', { message: errorText(save.error) }) };
  else if (dirty) status = { color: 'yellow', text: t('prompts.unsaved') };
  else if (lastSaved && lastSaved.version === saved.version)
    status = {
      color: 'green',
      text: t('prompts.saved', { version: lastSaved.version, date: formatDateTime(lastSaved.updated_at) }),
    };
  else if (saved.version === 0) status = { color: 'gray', text: t('prompts.neverSaved') };
  else
    status = {
      color: 'gray',
      text: `${t('prompts.upToDate')} · ${t('prompts.version', { version: saved.version })} · ${formatDateTime(saved.updated_at)}`,
    };

  return (
    <Card withBorder padding="lg" radius="md">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          submit();
        }}
        data-testid="prompts-form"
      >
        <Stack gap="lg">
          {FIELDS.map((field) => {
            const over = counts[field] > PROMPT_MAX_CHARS;
            const label = field === 'calls_prompt' ? t('prompts.calls') : t('prompts.whatsapp');
            return (
              <Box key={field}>
                <Textarea
                  label={label}
                  name={field}
                  placeholder={t(field === 'calls_prompt' ? 'prompts.callsPlaceholder' : 'prompts.whatsappPlaceholder')}
                  autosize
                  minRows={6}
                  maxRows={18}
                  value={value[field]}
                  onChange={(event) => edit(field, event.currentTarget.value)}
                  error={over ? t('prompts.tooLong', { max: PROMPT_MAX_CHARS.toLocaleString('en-US') }) : errors[field]}
                  classNames={{ input: 'prompt-editor' }}
                  data-testid={`prompt-${field}`}
                />
                <Text
                  size="xs"
                  ta="end"
                  mt={4}
                  c={over ? 'red' : counts[field] > PROMPT_MAX_CHARS * 0.9 ? 'orange' : 'dimmed'}
                  data-testid={`count-${field}`}
                >
                  <Bdi>
                    {t('prompts.count', {
                      count: counts[field].toLocaleString('en-US'),
                      max: PROMPT_MAX_CHARS.toLocaleString('en-US'),
                    })}
                  </Bdi>
                </Text>
              </Box>
            );
          })}
          <Group justify="space-between" wrap="wrap">
            <Alert
              color={status.color}
              variant="light"
              py={6}
              px="sm"
              role="status"
              aria-live="polite"
              data-testid="save-status"
              data-state={save.isPending ? 'saving' : save.isError ? 'failed' : dirty ? 'dirty' : lastSaved ? 'saved' : 'clean'}
              style={{ flex: 1, minWidth: 240 }}
            >
              <Text size="sm">{status.text}</Text>
            </Alert>
            <Button type="submit" disabled={!canSave} loading={save.isPending} data-testid="save-prompts">
              {t('prompts.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function PromptHistoryList({ current, setDraft }: { current: Prompt } & Pick<DraftProps, 'setDraft'>) {
  const { t } = useI18n();
  const history = usePromptHistory();
  const queryClient = useQueryClient();
  const keys = usePromptKeys();
  const [restoring, setRestoring] = useState<PromptVersion | null>(null);

  const restore = useMutation({
    mutationFn: (version: PromptVersion) => savePrompt(pairOf(version)),
    onSuccess: (stored, version) => {
      queryClient.setQueryData(keys.prompt, stored);
      void queryClient.invalidateQueries({ queryKey: keys.history });
      setDraft(null);
      setRestoring(null);
      notifications.show({
        color: 'green',
        message: t('prompts.restored', { version: version.version, newVersion: stored.version }),
      });
    },
  });

  return (
    <Card withBorder padding="lg" radius="md" data-testid="prompt-history">
      <Title order={4} mb="sm">
        {t('prompts.history')}
      </Title>
      {history.isPending ? (
        <LoadingState />
      ) : history.isError ? (
        <ErrorState error={history.error} onRetry={() => void history.refetch()} />
      ) : history.data.items.length === 0 ? (
        <Empty description={t('prompts.historyEmpty')} />
      ) : (
        <Accordion variant="separated" chevronPosition="left">
          {history.data.items.map((version) => {
            const isCurrent = version.version === current.version;
            return (
              <Accordion.Item key={version.version} value={String(version.version)} data-testid={`history-${version.version}`}>
                <Accordion.Control>
                  <Group gap={6} wrap="wrap">
                    <Text fw={600} size="sm">
                      {t('prompts.version', { version: version.version })}
                    </Text>
                    {isCurrent ? (
                      <Badge size="xs" color="green" variant="light">
                        {t('prompts.current')}
                      </Badge>
                    ) : null}
                    {version.impersonation_id ? (
                      <Badge size="xs" color="orange" variant="light">
                        {t('prompts.byImpersonation')}
                      </Badge>
                    ) : null}
                  </Group>
                  <Text size="xs" c="dimmed">
                    {formatDateTime(version.saved_at)}
                  </Text>
                  {version.saved_by ? (
                    <Text size="xs" c="dimmed" truncate="end">
                      <Bdi>{version.saved_by.email}</Bdi>
                    </Text>
                  ) : null}
                </Accordion.Control>
                <Accordion.Panel>
                  <Stack gap="xs">
                    {FIELDS.map((field) => (
                      <div key={field}>
                        <Text size="xs" fw={600}>
                          {field === 'calls_prompt' ? t('prompts.calls') : t('prompts.whatsapp')}{' '}
                          <Text span c="dimmed" size="xs">
                            ({t('prompts.chars', { count: charCount(version[field]).toLocaleString('en-US') })})
                          </Text>
                        </Text>
                        <Text
                          size="xs"
                          c={version[field] ? undefined : 'dimmed'}
                          style={{ whiteSpace: 'pre-wrap', maxHeight: 160, overflow: 'auto' }}
                          bg="gray.0"
                          p={6}
                        >
                          {version[field] || '—'}
                        </Text>
                      </div>
                    ))}
                    <Button
                      size="compact-sm"
                      variant="light"
                      disabled={isCurrent}
                      onClick={() => setRestoring(version)}
                      data-testid={`restore-${version.version}`}
                    >
                      {t('prompts.restore')}
                    </Button>
                  </Stack>
                </Accordion.Panel>
              </Accordion.Item>
            );
          })}
        </Accordion>
      )}
      <ConfirmModal
        opened={restoring !== null}
        title={t('prompts.restoreTitle', { version: restoring?.version ?? '' })}
        body={t('prompts.restoreExplain', { version: restoring?.version ?? '' })}
        confirmLabel={t('prompts.restore')}
        loading={restore.isPending}
        error={restore.error}
        onConfirm={() => restoring && restore.mutate(restoring)}
        onClose={() => {
          setRestoring(null);
          restore.reset();
        }}
      />
    </Card>
  );
}
