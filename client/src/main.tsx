import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './app.css';

import { createTheme, DirectionProvider, MantineProvider, useDirection } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';

import { configureHttp } from './api/http';
import { loginPath } from './components/Guards';
import { directionOf, getLang, restoreLang, useI18n } from './i18n';
import { queryClient } from './queryClient';
import { router } from './router';

configureHttp({
  goToLogin: (next) => {
    if (router.state.location.pathname === '/login') return;
    queryClient.clear();
    void router.navigate(loginPath(next), { replace: true });
  },
});

const theme = createTheme({
  primaryColor: 'indigo',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", "Noto Sans Hebrew", Arial, "DejaVu Sans", sans-serif',
  defaultRadius: 'md',
});

/** Mantine's direction follows the language (html dir is set by the i18n store). */
function DirectionSync() {
  const { lang } = useI18n();
  const { setDirection } = useDirection();
  useEffect(() => setDirection(directionOf(lang)), [lang, setDirection]);
  return null;
}

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');

// The stored language's dictionary first (English is a chunk of its own).
void restoreLang().then(() =>
  createRoot(root).render(
  <StrictMode>
    <DirectionProvider initialDirection={directionOf(getLang())} detectDirection={false}>
      <MantineProvider theme={theme} defaultColorScheme="light">
        <DirectionSync />
        <Notifications position="bottom-center" zIndex={1000} />
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </MantineProvider>
    </DirectionProvider>
  </StrictMode>,
),
);
