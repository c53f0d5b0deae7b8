import {
  Badge,
  Button,
  Checkbox,
  Fieldset,
  Group,
  Modal,
  Pagination,
  PasswordInput,
  SegmentedControl,
  Stack,
  Switch,
  Table,
  Text,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate } from 'react-router';

import {
  type Business,
  type BusinessInput,
  createBusiness,
  deactivateBusiness,
  impersonate,
  listBusinesses,
  updateBusiness,
} from '../../api/admin';
import { fieldErrors } from '../../api/http';
import { Name, PhoneList } from '../../components/Bdi';
import { ConfirmModal } from '../../components/ConfirmModal';
import { FormError } from '../../components/FormError';
import { reloadSession } from '../../components/ImpersonationBanner';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, errorText, LoadingState } from '../../components/QueryState';
import { Trans } from '../../components/Trans';
import { useI18n } from '../../i18n';
import { type BusinessFormState, businessPayload, initialBusinessForm } from '../../lib/businessForm';
import { formatDate } from '../../lib/format';
import { businessesKey } from './queries';

const PAGE_SIZE = 25;
type ActiveFilter = 'all' | 'active' | 'inactive';

export default function BusinessesPage() {
  const { t } = useI18n();
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 300);
  const [active, setActive] = useState<ActiveFilter>('all');
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Business | 'new' | null>(null);
  const [impersonating, setImpersonating] = useState<Business | null>(null);
  const [deactivating, setDeactivating] = useState<Business | null>(null);
  const queryClient = useQueryClient();

  const query = { q: q || undefined, active: active === 'all' ? undefined : active === 'active', page, page_size: PAGE_SIZE };
  const businesses = useQuery({
    queryKey: [...businessesKey, query],
    queryFn: ({ signal }) => listBusinesses(query, signal),
    placeholderData: keepPreviousData,
  });

  const setActiveState = useMutation({
    mutationFn: ({ business, activate }: { business: Business; activate: boolean }) =>
      activate ? updateBusiness(business.id, { is_active: true }) : deactivateBusiness(business.id),
    onSuccess: (_, { activate }) => {
      notifications.show({ color: 'green', message: t(activate ? 'businesses.activated' : 'businesses.deactivated') });
      setDeactivating(null);
      void queryClient.invalidateQueries({ queryKey: businessesKey });
    },
    onError: (error, { activate }) => {
      if (activate) notifications.show({ color: 'red', title: t('businesses.saveFailed'), message: errorText(error) });
    },
  });

  const filtered = Boolean(q) || active !== 'all';
  const data = businesses.data;

  return (
    <Stack gap="md">
      <PageHeader
        title={t('businesses.title')}
        actions={
          <Button onClick={() => setEditing('new')} data-testid="new-business">
            {t('businesses.new')}
          </Button>
        }
      />
      <Group gap="sm" wrap="wrap">
        <TextInput
          placeholder={t('businesses.searchPlaceholder')}
          aria-label={t('common.search')}
          value={search}
          onChange={(event) => {
            setSearch(event.currentTarget.value);
            setPage(1);
          }}
          w={320}
          data-testid="business-search"
        />
        <SegmentedControl
          aria-label={t('businesses.filterActive')}
          value={active}
          onChange={(value) => {
            setActive(value as ActiveFilter);
            setPage(1);
          }}
          data={[
            { value: 'all', label: t('common.all') },
            { value: 'active', label: t('common.active') },
            { value: 'inactive', label: t('common.inactive') },
          ]}
        />
      </Group>

      {businesses.isPending ? (
        <LoadingState />
      ) : businesses.isError ? (
        <ErrorState error={businesses.error} onRetry={() => void businesses.refetch()} />
      ) : data && data.items.length === 0 ? (
        <Empty
          title={filtered ? t('state.noResults') : undefined}
          description={filtered ? undefined : t('businesses.empty')}
          action={
            filtered ? (
              <Button
                variant="light"
                onClick={() => {
                  setSearch('');
                  setActive('all');
                }}
              >
                {t('common.clearFilters')}
              </Button>
            ) : (
              <Button onClick={() => setEditing('new')}>{t('businesses.new')}</Button>
            )
          }
        />
      ) : data ? (
        <>
          <Table.ScrollContainer minWidth={800}>
            <Table striped highlightOnHover verticalSpacing="sm" data-testid="businesses-table" style={{ opacity: businesses.isFetching ? 0.7 : 1 }}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('businesses.col.name')}</Table.Th>
                  <Table.Th>{t('businesses.col.voice')}</Table.Th>
                  <Table.Th>{t('businesses.col.whatsapp')}</Table.Th>
                  <Table.Th>{t('businesses.col.status')}</Table.Th>
                  <Table.Th>{t('businesses.col.created')}</Table.Th>
                  <Table.Th>{t('businesses.col.actions')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((business) => (
                  <Table.Tr key={business.id} data-testid={`business-row-${business.id}`}>
                    <Table.Td fw={600}>
                      <Name>{business.name}</Name>
                    </Table.Td>
                    <Table.Td>
                      <PhoneList numbers={business.voice_numbers} />
                    </Table.Td>
                    <Table.Td>
                      <PhoneList numbers={business.whatsapp_numbers} />
                    </Table.Td>
                    <Table.Td>
                      <Badge color={business.is_active ? 'green' : 'gray'} variant="light">
                        {business.is_active ? t('common.active') : t('common.inactive')}
                      </Badge>
                    </Table.Td>
                    <Table.Td className="nowrap">{formatDate(business.created_at)}</Table.Td>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap">
                        <Button size="compact-sm" variant="light" onClick={() => setEditing(business)}>
                          {t('businesses.edit')}
                        </Button>
                        <Button
                          size="compact-sm"
                          variant="light"
                          color="orange"
                          disabled={!business.is_active}
                          onClick={() => setImpersonating(business)}
                          data-testid={`impersonate-${business.id}`}
                        >
                          {t('businesses.impersonate')}
                        </Button>
                        {business.is_active ? (
                          <Button size="compact-sm" variant="subtle" color="red" onClick={() => setDeactivating(business)}>
                            {t('businesses.deactivate')}
                          </Button>
                        ) : (
                          <Button
                            size="compact-sm"
                            variant="subtle"
                            color="green"
                            loading={setActiveState.isPending && setActiveState.variables?.business.id === business.id}
                            onClick={() => setActiveState.mutate({ business, activate: true })}
                          >
                            {t('businesses.activate')}
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              {t('common.total', { count: data.total })}
            </Text>
            {data.total > PAGE_SIZE ? (
              <Pagination total={Math.ceil(data.total / PAGE_SIZE)} value={page} onChange={setPage} />
            ) : null}
          </Group>
        </>
      ) : null}

      {editing ? (
        <BusinessFormModal
          business={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
        />
      ) : null}
      {impersonating ? <ImpersonateModal business={impersonating} onClose={() => setImpersonating(null)} /> : null}
      <ConfirmModal
        opened={deactivating !== null}
        title={<Trans k="businesses.deactivateTitle" values={{ business: <Name>{deactivating?.name}</Name> }} />}
        body={t('businesses.deactivateExplain')}
        confirmLabel={t('businesses.deactivate')}
        color="red"
        loading={setActiveState.isPending}
        error={setActiveState.variables?.activate === false ? setActiveState.error : null}
        onConfirm={() => deactivating && setActiveState.mutate({ business: deactivating, activate: false })}
        onClose={() => {
          setDeactivating(null);
          setActiveState.reset();
        }}
      />
    </Stack>
  );
}

function BusinessFormModal({ business, onClose }: { business: Business | null; onClose: () => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [form, setForm] = useState<BusinessFormState>(() => initialBusinessForm(business));
  const set = <K extends keyof BusinessFormState>(key: K, value: BusinessFormState[K]) =>
    setForm((current) => ({ ...current, [key]: value }));

  const save = useMutation({
    mutationFn: () => {
      const body = businessPayload(form, business);
      return business ? updateBusiness(business.id, body) : createBusiness(body as BusinessInput);
    },
    onSuccess: (saved) => {
      notifications.show({
        color: 'green',
        message: business ? t('businesses.saved') : t('businesses.created', { business: saved.name }),
      });
      void queryClient.invalidateQueries({ queryKey: businessesKey });
      onClose();
    },
  });
  const errors = fieldErrors(save.error);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const tokenSet = business?.meta_access_token_set ?? false;

  return (
    <Modal
      opened
      onClose={onClose}
      size="lg"
      title={
        business ? (
          <Trans k="businesses.editTitle" values={{ business: <Name>{business.name}</Name> }} />
        ) : (
          t('businesses.createTitle')
        )
      }
    >
      <form onSubmit={submit} data-testid="business-form" noValidate>
        <Stack>
          <FormError
            error={save.error}
            title={t('businesses.saveFailed')}
            shownFields={[
              'name',
              'timezone',
              'voice_numbers',
              'whatsapp_numbers',
              'meta_phone_number_id',
              'meta_access_token',
              'twilio_messaging_service_sid',
            ]}
          />
          <TextInput
            label={t('businesses.field.name')}
            name="name"
            required
            value={form.name}
            onChange={(event) => set('name', event.currentTarget.value)}
            error={errors.name}
            data-autofocus
          />
          <TextInput
            label={t('businesses.field.timezone')}
            name="timezone"
            dir="ltr"
            value={form.timezone}
            onChange={(event) => set('timezone', event.currentTarget.value)}
            error={errors.timezone}
          />
          <Group grow align="flex-start">
            <Textarea
              label={t('businesses.field.voice')}
              description={t('businesses.field.numbersHint')}
              name="voice_numbers"
              dir="ltr"
              autosize
              minRows={2}
              value={form.voice}
              onChange={(event) => set('voice', event.currentTarget.value)}
              error={errors.voice_numbers}
            />
            <Textarea
              label={t('businesses.field.whatsapp')}
              description={t('businesses.field.numbersHint')}
              name="whatsapp_numbers"
              dir="ltr"
              autosize
              minRows={2}
              value={form.whatsapp}
              onChange={(event) => set('whatsapp', event.currentTarget.value)}
              error={errors.whatsapp_numbers}
            />
          </Group>
          <Fieldset legend={t('businesses.providers')} variant="unstyled" data-testid="provider-settings">
            <Stack gap="sm">
              <TextInput
                label={t('businesses.field.twilioSid')}
                description={t('businesses.field.twilioSidHint')}
                name="twilio_messaging_service_sid"
                dir="ltr"
                value={form.twilioMessagingServiceSid}
                onChange={(event) => set('twilioMessagingServiceSid', event.currentTarget.value)}
                error={errors.twilio_messaging_service_sid}
              />
              <TextInput
                label={t('businesses.field.meta')}
                name="meta_phone_number_id"
                dir="ltr"
                value={form.metaPhoneNumberId}
                onChange={(event) => set('metaPhoneNumberId', event.currentTarget.value)}
                error={errors.meta_phone_number_id}
              />
              <PasswordInput
                label={
                  <Group gap={6} component="span" wrap="nowrap">
                    <span>{t('businesses.field.metaToken')}</span>
                    {business ? (
                      <Badge size="xs" variant="light" color={tokenSet ? 'green' : 'gray'} data-testid="meta-token-state">
                        {tokenSet ? t('businesses.field.metaTokenSet') : t('businesses.field.metaTokenNotSet')}
                      </Badge>
                    ) : null}
                  </Group>
                }
                description={tokenSet ? t('businesses.field.metaTokenKeep') : t('businesses.field.metaTokenHint')}
                name="meta_access_token"
                dir="ltr"
                autoComplete="new-password"
                value={form.metaAccessToken}
                disabled={form.clearMetaAccessToken}
                onChange={(event) => set('metaAccessToken', event.currentTarget.value)}
                error={errors.meta_access_token}
                data-testid="meta-access-token"
              />
              {tokenSet ? (
                <Checkbox
                  label={t('businesses.field.metaTokenClear')}
                  checked={form.clearMetaAccessToken}
                  onChange={(event) => set('clearMetaAccessToken', event.currentTarget.checked)}
                  data-testid="meta-token-clear"
                />
              ) : null}
            </Stack>
          </Fieldset>
          {business ? (
            <Switch
              label={t('businesses.field.active')}
              checked={form.isActive}
              onChange={(event) => set('isActive', event.currentTarget.checked)}
            />
          ) : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!form.name.trim()} data-testid="save-business">
              {business ? t('common.save') : t('common.create')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function ImpersonateModal({ business, onClose }: { business: Business; onClose: () => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [reason, setReason] = useState('');
  const [touched, setTouched] = useState(false);
  const valid = reason.trim().length >= 3;

  const start = useMutation({
    mutationFn: () => impersonate(business.id, reason.trim()),
    onSuccess: async () => {
      await reloadSession(queryClient);
      onClose();
      navigate('/app', { replace: true });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (valid) start.mutate();
  };

  return (
    <Modal
      opened
      onClose={onClose}
      title={<Trans k="impersonation.startTitle" values={{ business: <Name>{business.name}</Name> }} />}
    >
      <form onSubmit={submit} data-testid="impersonate-form" noValidate>
        <Stack>
          <Text size="sm" c="dimmed">
            {t('impersonation.startExplain')}
          </Text>
          <FormError error={start.error} title={t('impersonation.failed')} shownFields={['reason']} />
          <Textarea
            label={t('impersonation.reason')}
            placeholder={t('impersonation.reasonPlaceholder')}
            name="reason"
            required
            autosize
            minRows={2}
            maxLength={500}
            value={reason}
            onChange={(event) => setReason(event.currentTarget.value)}
            onBlur={() => setTouched(true)}
            error={(touched && !valid ? t('impersonation.reasonRequired') : undefined) ?? fieldErrors(start.error).reason}
            data-autofocus
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" color="orange" loading={start.isPending} data-testid="start-impersonation">
              {t('impersonation.start')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
