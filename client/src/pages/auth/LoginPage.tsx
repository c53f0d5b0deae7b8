import { Alert, Box, Button, Center, Group, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';

import { login } from '../../api/auth';
import { fieldErrors } from '../../api/http';
import { LanguageSwitch } from '../../components/AppLayout';
import { errorText } from '../../components/QueryState';
import { useI18n } from '../../i18n';
import { meKey } from '../../session';

/** Only same-app paths: never an absolute or protocol-relative URL from the query string. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/';
}

export default function LoginPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');

  const signIn = useMutation({
    mutationFn: () => login(email.trim(), password),
    onSuccess: (me) => {
      queryClient.clear();
      queryClient.setQueryData(meKey, me);
      navigate(safeNext(params.get('next')), { replace: true });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate();
  };
  const errors = fieldErrors(signIn.error);

  return (
    <Center mih="100vh" bg="gray.0" p="md">
      <Box w="100%" maw={400}>
        <Group justify="space-between" mb="sm">
          <Title order={3}>{t('app.name')}</Title>
          <LanguageSwitch />
        </Group>
        <Paper withBorder shadow="sm" p="xl" radius="md">
          <form onSubmit={submit} noValidate data-testid="login-form">
            <Stack>
              <div>
                <Title order={2}>{t('login.title')}</Title>
                <Text c="dimmed" size="sm">
                  {t('login.subtitle')}
                </Text>
              </div>
              {signIn.isError ? (
                <Alert color="red" title={t('login.failed')} role="alert" data-testid="login-error">
                  {errorText(signIn.error)}
                </Alert>
              ) : null}
              <TextInput
                label={t('login.email')}
                name="email"
                type="email"
                autoComplete="username"
                dir="ltr"
                required
                value={email}
                onChange={(event) => setEmail(event.currentTarget.value)}
                error={errors.email}
                autoFocus
              />
              <PasswordInput
                label={t('login.password')}
                name="password"
                autoComplete="current-password"
                dir="ltr"
                required
                value={password}
                onChange={(event) => setPassword(event.currentTarget.value)}
                error={errors.password}
              />
              <Button type="submit" loading={signIn.isPending} disabled={!email || !password} fullWidth>
                {t('login.submit')}
              </Button>
            </Stack>
          </form>
        </Paper>
        <Text ta="center" c="dimmed" size="xs" mt="md">
          {t('app.tagline')}
        </Text>
      </Box>
    </Center>
  );
}
