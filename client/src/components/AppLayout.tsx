import { AppShell, Badge, Burger, Button, Group, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Suspense } from 'react';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';

import { logout, type Me } from '../api/auth';
import { type MessageKey, useI18n } from '../i18n';
import { isAdminMode } from '../session';
import { Bdi, Name } from './Bdi';
import { BANNER_HEIGHT, ImpersonationBanner } from './ImpersonationBanner';
import { useCurrentMe } from './MeContext';
import { NotificationsBell } from './NotificationsBell';
import { LoadingState } from './QueryState';

const HEADER_HEIGHT = 56;

interface NavItem {
  to: string;
  label: MessageKey;
  exact?: boolean;
}

const ADMIN_NAV: NavItem[] = [
  { to: '/admin/businesses', label: 'nav.businesses' },
  { to: '/admin/users', label: 'nav.users' },
  { to: '/admin/audit', label: 'nav.audit' },
];

const BUSINESS_NAV: NavItem[] = [
  { to: '/app', label: 'nav.dashboard', exact: true },
  { to: '/app/leads', label: 'nav.leads' },
  { to: '/app/calls', label: 'nav.calls' },
  { to: '/app/inbox', label: 'nav.inbox' },
  { to: '/app/prompts', label: 'nav.prompts' },
];

export function LanguageSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <Button
      variant="subtle"
      size="compact-sm"
      onClick={() => void setLang(lang === 'he' ? 'en' : 'he')}
      aria-label={t('lang.switchLabel')}
      data-testid="lang-switch"
    >
      {t('lang.switchTo')}
    </Button>
  );
}

function WhoAmI({ me }: { me: Me }) {
  const { t } = useI18n();
  return (
    <Group gap={6} wrap="nowrap" data-testid="whoami" visibleFrom="sm">
      <Text size="sm" c="dimmed">
        {t('header.whoami')}
      </Text>
      <Text size="sm" fw={600}>
        <Bdi>{me.user.email}</Bdi>
      </Text>
      <Badge variant="light" size="sm" color={me.role === 'business' ? 'teal' : 'indigo'}>
        {t(`header.role.${me.role}` as MessageKey)}
      </Badge>
      {me.role === 'business' && me.tenant ? (
        <Text size="sm" c="dimmed">
          · <Name>{me.tenant.name}</Name>
        </Text>
      ) : null}
    </Group>
  );
}

export function AppLayout() {
  const me = useCurrentMe();
  const { t } = useI18n();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const adminMode = isAdminMode(me);
  const banner = me.impersonating;
  const items = adminMode ? ADMIN_NAV : BUSINESS_NAV;

  const signOut = useMutation({
    mutationFn: logout,
    onSettled: () => {
      queryClient.clear();
      navigate('/login', { replace: true });
    },
  });

  const isActive = (item: NavItem) =>
    item.exact ? location.pathname === item.to : location.pathname.startsWith(item.to);

  return (
    <AppShell
      header={{ height: HEADER_HEIGHT + (banner ? BANNER_HEIGHT : 0) }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        {banner ? <ImpersonationBanner me={me} /> : null}
        <Group h={HEADER_HEIGHT} px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t('header.openMenu')} />
            <Link to="/" style={{ textDecoration: 'none', color: 'inherit' }}>
              <Title order={4}>{t('app.name')}</Title>
            </Link>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <WhoAmI me={me} />
            {adminMode ? null : <NotificationsBell />}
            <LanguageSwitch />
            <Button
              variant="light"
              size="compact-sm"
              onClick={() => signOut.mutate()}
              loading={signOut.isPending}
              data-testid="logout"
            >
              {t('header.logout')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm">
        <Stack gap={4}>
          <Text size="xs" c="dimmed" fw={700} tt="uppercase" px="sm" pb={4}>
            {adminMode ? t('nav.admin') : t('nav.business')}
          </Text>
          {items.map((item) => (
            <NavLink
              key={item.to}
              component={Link}
              to={item.to}
              label={t(item.label)}
              active={isActive(item)}
              onClick={close}
              data-testid={`nav-${item.to.replaceAll('/', '-').slice(1)}`}
            />
          ))}
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<LoadingState />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
