import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  Pagination,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';

import {
  createUser,
  listUsers,
  resetPassword,
  updateUser,
  type UserCreateInput,
  type UserPatch,
  type UserWithPassword,
} from '../../api/admin';
import type { Role, User } from '../../api/auth';
import { fieldErrors } from '../../api/http';
import { Bdi } from '../../components/Bdi';
import { ConfirmModal } from '../../components/ConfirmModal';
import { FormError } from '../../components/FormError';
import { useCurrentMe } from '../../components/MeContext';
import { PageHeader } from '../../components/PageHeader';
import { Empty, ErrorState, errorText, LoadingState } from '../../components/QueryState';
import { Trans } from '../../components/Trans';
import { type MessageKey, useI18n } from '../../i18n';
import { formatDateTime } from '../../lib/format';
import { BusinessName, BusinessPicker } from './BusinessPicker';

const PAGE_SIZE = 25;
const usersKey = ['admin', 'users'] as const;
const ROLES: Role[] = ['admin', 'manager', 'business'];

export default function UsersPage() {
  const { t } = useI18n();
  const me = useCurrentMe();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 300);
  const [role, setRole] = useState<Role | null>(null);
  const [businessId, setBusinessId] = useState<number | null>(null);
  const [active, setActive] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<User | 'new' | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const [password, setPassword] = useState<UserWithPassword | null>(null);

  const query = {
    q: q || undefined,
    role: role ?? undefined,
    business_id: businessId ?? undefined,
    active: active === null ? undefined : active === 'active',
    page,
    page_size: PAGE_SIZE,
  };
  const users = useQuery({
    queryKey: [...usersKey, query],
    queryFn: ({ signal }) => listUsers(query, signal),
    placeholderData: keepPreviousData,
  });

  const toggleActive = useMutation({
    mutationFn: (user: User) => updateUser(user.id, { is_active: !user.is_active }),
    onSuccess: (user) => {
      notifications.show({ color: 'green', message: t(user.is_active ? 'users.activated' : 'users.deactivated') });
      void queryClient.invalidateQueries({ queryKey: usersKey });
    },
    onError: (error) => notifications.show({ color: 'red', title: t('users.saveFailed'), message: errorText(error) }),
  });

  const reset = useMutation({
    mutationFn: (user: User) => resetPassword(user.id),
    onSuccess: (user) => {
      setResetting(null);
      setPassword(user);
      void queryClient.invalidateQueries({ queryKey: usersKey });
    },
  });

  const filtered = Boolean(q || role || businessId || active);
  const data = users.data;
  const roleLabel = (value: string) => t(`header.role.${value}` as MessageKey);
  // A manager may not create, change or deactivate admin/manager users; the server says so too.
  const mayManage = (user: User) => me.role === 'admin' || user.role === 'business';

  return (
    <Stack gap="md">
      <PageHeader
        title={t('users.title')}
        actions={
          <Button onClick={() => setEditing('new')} data-testid="new-user">
            {t('users.new')}
          </Button>
        }
      />
      <Group gap="sm" wrap="wrap" align="flex-end">
        <TextInput
          placeholder={t('users.searchPlaceholder')}
          aria-label={t('common.search')}
          value={search}
          onChange={(event) => {
            setSearch(event.currentTarget.value);
            setPage(1);
          }}
          w={280}
        />
        <Select
          placeholder={t('users.filterRole')}
          aria-label={t('users.filterRole')}
          clearable
          value={role}
          onChange={(value) => {
            setRole(value as Role | null);
            setPage(1);
          }}
          data={ROLES.map((value) => ({ value, label: roleLabel(value) }))}
          w={170}
        />
        <BusinessPicker
          placeholder={t('users.filterBusiness')}
          aria-label={t('users.filterBusiness')}
          clearable
          value={businessId}
          onChange={(value) => {
            setBusinessId(value);
            setPage(1);
          }}
          w={220}
          data-testid="users-business-filter"
        />
        <Select
          placeholder={t('users.filterActive')}
          aria-label={t('users.filterActive')}
          clearable
          value={active}
          onChange={(value) => {
            setActive(value);
            setPage(1);
          }}
          data={[
            { value: 'active', label: t('common.active') },
            { value: 'inactive', label: t('common.inactive') },
          ]}
          w={140}
        />
      </Group>

      {users.isPending ? (
        <LoadingState />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : data && data.items.length === 0 ? (
        <Empty title={filtered ? t('state.noResults') : undefined} description={t('users.empty')} />
      ) : data ? (
        <>
          <Table.ScrollContainer minWidth={860}>
            <Table striped highlightOnHover verticalSpacing="sm" data-testid="users-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('users.col.email')}</Table.Th>
                  <Table.Th>{t('users.col.name')}</Table.Th>
                  <Table.Th>{t('users.col.role')}</Table.Th>
                  <Table.Th>{t('users.col.business')}</Table.Th>
                  <Table.Th>{t('users.col.status')}</Table.Th>
                  <Table.Th>{t('users.col.lastLogin')}</Table.Th>
                  <Table.Th>{t('users.col.actions')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((user) => (
                  <Table.Tr key={user.id}>
                    <Table.Td>
                      <Bdi>{user.email}</Bdi>
                    </Table.Td>
                    <Table.Td>{user.full_name || '—'}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={user.role === 'business' ? 'teal' : 'indigo'}>
                        {roleLabel(user.role)}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      {user.business_id === null ? '—' : <BusinessName id={user.business_id} />}
                    </Table.Td>
                    <Table.Td>
                      <Badge color={user.is_active ? 'green' : 'gray'} variant="light">
                        {user.is_active ? t('common.active') : t('common.inactive')}
                      </Badge>
                    </Table.Td>
                    <Table.Td className="nowrap">{formatDateTime(user.last_login_at) || '—'}</Table.Td>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap">
                        <Button size="compact-sm" variant="light" disabled={!mayManage(user)} onClick={() => setEditing(user)}>
                          {t('common.edit')}
                        </Button>
                        <Button size="compact-sm" variant="light" color="grape" disabled={!mayManage(user)} onClick={() => setResetting(user)}>
                          {t('users.resetPassword')}
                        </Button>
                        <Button
                          size="compact-sm"
                          variant="subtle"
                          color={user.is_active ? 'red' : 'green'}
                          disabled={!mayManage(user) || user.id === me.user.id}
                          loading={toggleActive.isPending && toggleActive.variables?.id === user.id}
                          onClick={() => toggleActive.mutate(user)}
                        >
                          {user.is_active ? t('users.deactivate') : t('users.activate')}
                        </Button>
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
        <UserFormModal
          user={editing === 'new' ? null : editing}
          allowedRoles={me.role === 'admin' ? ROLES : ['business']}
          onClose={() => setEditing(null)}
          onCreated={(created) => {
            setEditing(null);
            if (created.generated_password) setPassword(created);
          }}
        />
      ) : null}
      <ConfirmModal
        opened={resetting !== null}
        title={<Trans k="users.resetTitle" values={{ email: <Bdi>{resetting?.email}</Bdi> }} />}
        body={t('users.resetExplain')}
        confirmLabel={t('users.resetPassword')}
        color="grape"
        loading={reset.isPending}
        error={reset.error}
        onConfirm={() => resetting && reset.mutate(resetting)}
        onClose={() => {
          setResetting(null);
          reset.reset();
        }}
      />
      {password?.generated_password ? (
        <PasswordOnceModal email={password.email} password={password.generated_password} onClose={() => setPassword(null)} />
      ) : null}
    </Stack>
  );
}

function PasswordOnceModal({ email, password, onClose }: { email: string; password: string; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Modal opened onClose={onClose} title={<Trans k="users.passwordTitle" values={{ email: <Bdi>{email}</Bdi> }} />} centered>
      <Stack>
        <Alert color="yellow">{t('users.passwordOnce')}</Alert>
        <Group justify="space-between" wrap="nowrap">
          <Code fz="md" dir="ltr" data-testid="generated-password">
            {password}
          </Code>
          <CopyButton value={password}>
            {({ copied, copy }) => (
              <Button size="compact-sm" variant="light" color={copied ? 'teal' : undefined} onClick={copy}>
                {copied ? t('common.copied') : t('common.copy')}
              </Button>
            )}
          </CopyButton>
        </Group>
        <Group justify="flex-end">
          <Button onClick={onClose}>{t('common.close')}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

interface UserFormProps {
  user: User | null;
  allowedRoles: Role[];
  onClose: () => void;
  onCreated: (user: UserWithPassword) => void;
}

function UserFormModal({ user, allowedRoles, onClose, onCreated }: UserFormProps) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState(user?.email ?? '');
  const [fullName, setFullName] = useState(user?.full_name ?? '');
  const [role, setRole] = useState<Role>(user?.role ?? 'business');
  const [businessId, setBusinessId] = useState<number | null>(user?.business_id ?? null);
  const [password, setPassword] = useState('');
  const [isActive, setIsActive] = useState(user?.is_active ?? true);
  const [touched, setTouched] = useState(false);
  const needsBusiness = role === 'business';
  const businessMissing = needsBusiness && !businessId;

  const save = useMutation({
    mutationFn: async () => {
      const business_id = needsBusiness ? businessId : null;
      if (user) {
        const patch: UserPatch = { email: email.trim(), full_name: fullName.trim(), role, business_id, is_active: isActive };
        return { ...(await updateUser(user.id, patch)), generated_password: null };
      }
      const input: UserCreateInput = { email: email.trim(), full_name: fullName.trim(), role, business_id };
      if (password) input.password = password;
      return createUser(input);
    },
    onSuccess: (saved) => {
      notifications.show({ color: 'green', message: t(user ? 'users.saved' : 'users.created') });
      void queryClient.invalidateQueries({ queryKey: usersKey });
      if (user) onClose();
      else onCreated(saved);
    },
  });
  const errors = fieldErrors(save.error);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (!businessMissing) save.mutate();
  };

  return (
    <Modal
      opened
      onClose={onClose}
      title={user ? <Trans k="users.editTitle" values={{ email: <Bdi>{user.email}</Bdi> }} /> : t('users.createTitle')}
    >
      <form onSubmit={submit} noValidate data-testid="user-form">
        <Stack>
          <FormError
            error={save.error}
            title={t('users.saveFailed')}
            shownFields={['email', 'full_name', 'role', 'business_id', 'password']}
          />
          <TextInput
            label={t('users.field.email')}
            type="email"
            dir="ltr"
            required
            value={email}
            onChange={(event) => setEmail(event.currentTarget.value)}
            error={errors.email}
            data-autofocus
          />
          <TextInput
            label={t('users.field.fullName')}
            value={fullName}
            onChange={(event) => setFullName(event.currentTarget.value)}
            error={errors.full_name}
          />
          <Select
            label={t('users.field.role')}
            required
            allowDeselect={false}
            value={role}
            onChange={(value) => value && setRole(value as Role)}
            data={allowedRoles.map((value) => ({ value, label: t(`header.role.${value}` as MessageKey) }))}
            error={errors.role}
            comboboxProps={{ withinPortal: true }}
          />
          {needsBusiness ? (
            <BusinessPicker
              label={t('users.field.business')}
              required
              value={businessId}
              onChange={setBusinessId}
              error={errors.business_id ?? (touched && businessMissing ? t('users.businessRequired') : undefined)}
              data-testid="user-business"
            />
          ) : null}
          {user ? (
            <Switch label={t('users.field.active')} checked={isActive} onChange={(event) => setIsActive(event.currentTarget.checked)} />
          ) : (
            <PasswordInput
              label={t('users.field.password')}
              description={t('users.field.passwordHint')}
              dir="ltr"
              autoComplete="new-password"
              value={password}
              onChange={(event) => setPassword(event.currentTarget.value)}
              error={errors.password}
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('common.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending} disabled={!email.trim()} data-testid="save-user">
              {user ? t('common.save') : t('common.create')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
