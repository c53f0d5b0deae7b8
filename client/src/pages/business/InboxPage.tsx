import { Alert, Anchor, Badge, Button, Card, Grid, Group, Loader, SegmentedControl, Stack, Text, Textarea, TextInput, Title, UnstyledButton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';

import {
  type Conversation,
  type ConversationDetail,
  getConversation,
  listConversations,
  markConversationRead,
  type Message,
  pauseAi,
  resumeAi,
  retryMessage,
  sendMessage,
  sendTemplate,
} from '../../api/conversations';
import { ApiError } from '../../api/http';
import { Bdi } from '../../components/Bdi';
import { useCurrentMe } from '../../components/MeContext';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, errorText, LoadingState } from '../../components/QueryState';
import { type MessageKey, useI18n } from '../../i18n';
import { formatDateTime, formatTime } from '../../lib/format';
import { tenantKey } from '../../session';

/** Delivery ticks, as WhatsApp shows them. */
export function ticksOf(status: string): { mark: string; color?: string; label: MessageKey } {
  switch (status) {
    case 'read':
      return { mark: '✓✓', color: 'var(--mantine-color-blue-6)', label: 'inbox.status.read' };
    case 'delivered':
      return { mark: '✓✓', label: 'inbox.status.delivered' };
    case 'sent':
      return { mark: '✓', label: 'inbox.status.sent' };
    case 'failed':
    case 'undelivered':
      return { mark: '⚠', color: 'var(--mantine-color-red-6)', label: 'inbox.status.failed' };
    default:
      return { mark: '◷', label: 'inbox.status.queued' }; // a clock face every font has (the emoji may be missing)
  }
}

/** The thread's pages (the latest first, then older ones) as one list, oldest first, each once. */
export function threadMessages(pages: readonly Pick<ConversationDetail, 'messages'>[]): Message[] {
  const seen = new Set<number>();
  const out: Message[] = [];
  for (const page of [...pages].reverse()) {
    for (const message of page.messages) {
      if (seen.has(message.id)) continue;
      seen.add(message.id);
      out.push(message);
    }
  }
  return out;
}

export default function InboxPage() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const [params, setParams] = useSearchParams();
  const selected = Number(params.get('c')) || null;
  const [filter, setFilter] = useState('all');
  const [q, setQ] = useState('');
  const [debounced] = useDebouncedValue(q.trim(), 300);
  const filters = {
    unread: filter === 'unread',
    ai_paused: filter === 'paused',
    failed: filter === 'failed',
    q: debounced || undefined,
  };
  const list = useInfiniteQuery({
    queryKey: tenantKey(me, 'conversations', 'list', filters),
    queryFn: ({ pageParam, signal }) => listConversations(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    refetchInterval: 15_000,
  });
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <Stack gap="md">
      <PageHeader title={t('nav.inbox')} />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Stack gap="sm">
            <TextInput placeholder={t('inbox.search')} aria-label={t('inbox.search')} value={q} onChange={(e) => setQ(e.currentTarget.value)} />
            <SegmentedControl
              value={filter}
              onChange={setFilter}
              fullWidth
              size="xs"
              data={[
                { value: 'all', label: t('common.all') },
                { value: 'unread', label: t('inbox.unread') },
                { value: 'paused', label: t('inbox.paused') },
                { value: 'failed', label: t('inbox.failedFilter') },
              ]}
            />
            {list.isPending ? (
              <LoadingState />
            ) : list.isError && rows.length === 0 ? (
              <ErrorState error={list.error} onRetry={() => void list.refetch()} />
            ) : rows.length === 0 ? (
              <Empty title={debounced || filter !== 'all' ? t('state.noResults') : undefined} description={t('inbox.empty')} />
            ) : (
              <Stack gap={4} data-testid="conversation-list">
                {rows.map((c) => (
                  <ConversationItem key={c.id} conversation={c} active={c.id === selected} onSelect={() => setParams({ c: String(c.id) }, { replace: true })} />
                ))}
                {list.hasNextPage ? (
                  <Button variant="subtle" size="xs" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
                    {t('common.loadMore')}
                  </Button>
                ) : null}
              </Stack>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 8 }}>
          {selected ? <Thread key={selected} id={selected} /> : <Empty description={t('inbox.pick')} />}
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

function ConversationItem({ conversation: c, active, onSelect }: { conversation: Conversation; active: boolean; onSelect: () => void }) {
  const { t } = useI18n();
  return (
    <UnstyledButton
      onClick={onSelect}
      p="xs"
      style={{
        borderRadius: 8,
        border: '1px solid var(--mantine-color-gray-3)',
        background: active ? 'var(--mantine-color-indigo-0)' : undefined,
      }}
      data-testid={`conversation-${c.id}`}
    >
      <Group justify="space-between" wrap="nowrap" gap={4}>
        <Text size="sm" fw={c.unread_count ? 700 : 500} truncate="end">
          {c.customer_name || (c.customer_phone ? <Bdi>{c.customer_phone}</Bdi> : `#${c.id}`)}
        </Text>
        <Text size="xs" c="dimmed" style={{ flexShrink: 0 }}>
          {formatTime(c.last_message_at)}
        </Text>
      </Group>
      <Group justify="space-between" wrap="nowrap" gap={4}>
        <Text size="xs" c="dimmed" truncate="end">
          {c.last_preview}
        </Text>
        <Group gap={4} wrap="nowrap">
          {c.ai_paused ? (
            <Badge size="xs" color="orange" variant="light">
              {t('inbox.paused')}
            </Badge>
          ) : null}
          {c.has_failed ? (
            <Badge size="xs" color="red" variant="light">
              ⚠
            </Badge>
          ) : null}
          {c.unread_count ? (
            <Badge size="xs" color="teal">
              {c.unread_count}
            </Badge>
          ) : null}
        </Group>
      </Group>
    </UnstyledButton>
  );
}

function Thread({ id }: { id: number }) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const client = useQueryClient();
  const key = tenantKey(me, 'conversations', 'one', id);
  // Page 0: the latest messages (polled); "older messages" adds pages before them (before_id).
  const thread = useInfiniteQuery({
    queryKey: key,
    queryFn: ({ pageParam, signal }) => getConversation(id, pageParam, signal),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (last) => last.older_before_id ?? undefined,
    refetchInterval: 10_000,
  });
  const messages = useMemo(() => threadMessages(thread.data?.pages ?? []), [thread.data]);
  const scroller = useRef<HTMLDivElement>(null);
  const heightBefore = useRef<number | null>(null);
  const [text, setText] = useState('');
  const [template, setTemplate] = useState({ name: '', language: 'he', params: '' });
  const bottom = useRef<HTMLDivElement>(null);
  const refresh = () => {
    void client.invalidateQueries({ queryKey: key });
    void client.invalidateQueries({ queryKey: tenantKey(me, 'conversations', 'list') });
  };

  const read = useMutation({ mutationFn: () => markConversationRead(id), onSuccess: refresh });
  const unread = thread.data?.pages[0]?.unread_count ?? 0;
  useEffect(() => {
    if (unread > 0 && !read.isPending) read.mutate();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, unread]);
  const newest = messages.at(-1)?.id ?? 0;
  const oldest = messages[0]?.id ?? 0;
  useEffect(() => bottom.current?.scrollIntoView({ block: 'end' }), [id, newest]);
  // Older messages went on top: keep what was on screen where it was.
  useLayoutEffect(() => {
    const box = scroller.current;
    if (box && heightBefore.current !== null) {
      box.scrollTop += box.scrollHeight - heightBefore.current;
      heightBefore.current = null;
    }
  }, [oldest]);
  const loadOlder = () => {
    heightBefore.current = scroller.current?.scrollHeight ?? null;
    void thread.fetchNextPage();
  };

  const send = useMutation({
    mutationFn: (body: string) => sendMessage(id, body),
    onSuccess: () => {
      setText('');
      refresh();
    },
  });
  const sendTpl = useMutation({
    mutationFn: () =>
      sendTemplate(
        id,
        template.name.trim(),
        template.language.trim() || 'he',
        template.params.split('\n').map((p) => p.trim()).filter(Boolean),
      ),
    onSuccess: () => {
      notifications.show({ color: 'green', message: t('inbox.templateSent') });
      refresh();
    },
  });
  const retry = useMutation({
    mutationFn: (messageId: number) => retryMessage(id, messageId),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: 'red', message: errorText(error) }),
  });
  const toggleAi = useMutation({
    mutationFn: (paused: boolean) => (paused ? resumeAi(id) : pauseAi(id)),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: 'red', message: errorText(error) }),
  });

  if (thread.isPending) return <LoadingState />;
  if (thread.isError && !thread.data) return <ErrorState error={thread.error} onRetry={() => void thread.refetch()} />;
  const c = thread.data.pages[0]!;
  const outside = send.error instanceof ApiError && send.error.reason === 'outside_24h_window';
  const windowClosed = !c.window_open || outside;

  return (
    <Card withBorder padding="md" radius="md" data-testid="thread">
      <Group justify="space-between" mb="sm" wrap="wrap">
        <div>
          <Title order={4}>{c.customer_name || (c.customer_phone ? <Bdi>{c.customer_phone}</Bdi> : `#${c.id}`)}</Title>
          <Text size="xs" c="dimmed">
            {c.customer_phone ? <Bdi>{c.customer_phone}</Bdi> : null}
            {c.lead_id ? (
              <>
                {' · '}
                <Anchor component={Link} to={`/app/leads/${c.lead_id}`} size="xs">
                  {t('calls.openLead')}
                </Anchor>
              </>
            ) : null}
            {c.no_lead_reason ? <span data-testid="no-lead-reason">{t('inbox.noLeadYet')}</span> : null}
          </Text>
        </div>
        <Group gap="xs">
          <Badge color={c.ai_paused ? 'orange' : 'teal'} variant="light" data-testid="ai-state">
            {c.ai_paused ? t('inbox.aiPaused') : t('inbox.aiActive')}
          </Badge>
          <Button size="xs" variant="light" color={c.ai_paused ? 'teal' : 'orange'} loading={toggleAi.isPending} onClick={() => toggleAi.mutate(c.ai_paused)} data-testid="toggle-ai">
            {c.ai_paused ? t('inbox.resume') : t('inbox.pause')}
          </Button>
        </Group>
      </Group>
      <div className="thread" ref={scroller} style={{ height: 'max(320px, calc(100dvh - 460px))' }} data-testid="messages">
        {thread.hasNextPage ? (
          <Button
            variant="subtle"
            size="compact-xs"
            style={{ alignSelf: 'center' }}
            loading={thread.isFetchingNextPage}
            onClick={loadOlder}
            data-testid="older-messages"
          >
            {t('inbox.older')}
          </Button>
        ) : null}
        {thread.isFetchNextPageError ? (
          <Text size="xs" c="red" ta="center">
            {errorText(thread.error)}
          </Text>
        ) : null}
        {messages.length === 0 ? <Empty description={t('inbox.noMessages')} /> : null}
        {messages.map((m) => (
          <Bubble key={m.id} message={m} onRetry={m.status === 'failed' ? () => retry.mutate(m.id) : undefined} retrying={retry.isPending && retry.variables === m.id} />
        ))}
        <div ref={bottom} />
      </div>
      <Stack gap={6} mt="sm">
        {windowClosed ? (
          <Alert color="orange" variant="light" title={t('lead.window.title')} data-testid="window-closed">
            <Text size="sm">{t('lead.window.explain')}</Text>
            <Text size="sm">{c.last_inbound_at ? t('lead.window.last', { date: formatDateTime(c.last_inbound_at) }) : t('lead.window.never')}</Text>
            <Group mt="xs" align="flex-end" gap="xs" wrap="wrap">
              <TextInput size="xs" label={t('inbox.templateName')} dir="ltr" value={template.name} onChange={(e) => setTemplate({ ...template, name: e.currentTarget.value })} />
              <TextInput size="xs" label={t('inbox.templateLanguage')} dir="ltr" w={80} value={template.language} onChange={(e) => setTemplate({ ...template, language: e.currentTarget.value })} />
              <Textarea size="xs" label={t('inbox.templateParams')} autosize minRows={1} value={template.params} onChange={(e) => setTemplate({ ...template, params: e.currentTarget.value })} />
              <Button size="xs" disabled={!template.name.trim()} loading={sendTpl.isPending} onClick={() => sendTpl.mutate()}>
                {t('inbox.sendTemplate')}
              </Button>
            </Group>
            {sendTpl.error ? (
              <Text size="xs" c="red">
                {errorText(sendTpl.error)}
              </Text>
            ) : null}
          </Alert>
        ) : c.window_ends_at ? (
          <Text size="xs" c="dimmed">
            {t('inbox.windowOpen', { date: formatDateTime(c.window_ends_at) })}
          </Text>
        ) : null}
        {send.error && !outside ? (
          <Text size="sm" c="red">
            {errorText(send.error)}
          </Text>
        ) : null}
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (text.trim()) send.mutate(text.trim());
          }}
        >
          <Group align="flex-end" gap="xs" wrap="nowrap">
            <Textarea
              style={{ flex: 1 }}
              autosize
              minRows={1}
              maxRows={6}
              placeholder={t('inbox.compose')}
              aria-label={t('inbox.compose')}
              value={text}
              disabled={windowClosed}
              onChange={(e) => {
                if (send.isError) send.reset();
                setText(e.currentTarget.value);
              }}
              maxLength={4096}
              data-testid="compose"
            />
            <Button type="submit" color="teal" disabled={!text.trim() || windowClosed} loading={send.isPending}>
              {send.isPending ? <Loader size="xs" /> : t('inbox.send')}
            </Button>
          </Group>
        </form>
      </Stack>
    </Card>
  );
}

function Bubble({ message: m, onRetry, retrying }: { message: Message; onRetry?: () => void; retrying?: boolean }) {
  const { t } = useI18n();
  const outbound = m.direction === 'out' || m.direction === 'outbound';
  const ticks = ticksOf(m.status);
  return (
    <div className="bubble" data-dir={outbound ? 'outbound' : 'inbound'} data-testid={`message-${m.id}`}>
      {m.kind === 'template' ? (
        <Text size="xs" c="dimmed">
          {t('inbox.template')}
        </Text>
      ) : null}
      <Text size="sm">{m.text || (m.media?.length ? t('inbox.media') : '')}</Text>
      <Group gap={4} justify="flex-end">
        {outbound ? (
          <Text size="xs" c="dimmed">
            {m.author === 'ai' ? t('inbox.byAi') : t('inbox.byHuman')}
          </Text>
        ) : null}
        <Text size="xs" c="dimmed">
          {formatTime(m.created_at)}
        </Text>
        {outbound ? (
          <Text size="xs" style={{ color: ticks.color }} title={t(ticks.label)} aria-label={t(ticks.label)} data-status={m.status}>
            {ticks.mark}
          </Text>
        ) : null}
      </Group>
      {m.error_message ? (
        <Text size="xs" c="red">
          <bdi>{m.error_message}</bdi>
        </Text>
      ) : null}
      {onRetry ? (
        <Button size="compact-xs" variant="light" color="red" loading={retrying} onClick={onRetry} data-testid="retry-message">
          {m.kind === 'ai_reply' ? t('inbox.retryAi') : t('inbox.retry')}
        </Button>
      ) : null}
    </div>
  );
}
