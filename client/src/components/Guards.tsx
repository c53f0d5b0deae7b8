import { Center, Container } from '@mantine/core';
import { Navigate, Outlet, useLocation } from 'react-router';

import { isPlatform } from '../api/auth';
import { ApiError } from '../api/http';
import { ForbiddenPage } from '../pages/ForbiddenPage';
import { isAdminMode, useMe } from '../session';
import { MeContext, useCurrentMe } from './MeContext';
import { ErrorState, LoadingState } from './QueryState';

export function loginPath(next: string): string {
  return next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login';
}

/** Everything but /login: a signed-in user, whose /api/auth/me the routes below read. */
export function RequireAuth() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) {
    return (
      <Center h="100vh">
        <LoadingState />
      </Center>
    );
  }
  if (me.isError) {
    if (me.error instanceof ApiError && me.error.status === 401) {
      return <Navigate to={loginPath(location.pathname + location.search)} replace />;
    }
    return (
      <Container size="sm" py="xl">
        <ErrorState error={me.error} onRetry={() => void me.refetch()} />
      </Container>
    );
  }
  return (
    <MeContext.Provider value={me.data}>
      <Outlet />
    </MeContext.Provider>
  );
}

export function HomeRedirect() {
  const me = useCurrentMe();
  return <Navigate to={isAdminMode(me) ? '/admin/businesses' : '/app'} replace />;
}

/** /admin/**: platform staff only; while impersonating, the app is the business's. */
export function AdminOnly() {
  const me = useCurrentMe();
  if (!isPlatform(me.role)) return <ForbiddenPage />;
  if (me.impersonating) return <Navigate to="/app" replace />;
  return <Outlet />;
}

/** /app/**: a business user, or platform staff while impersonating. */
export function BusinessOnly() {
  const me = useCurrentMe();
  if (isAdminMode(me)) return <Navigate to="/admin/businesses" replace />;
  return <Outlet />;
}
