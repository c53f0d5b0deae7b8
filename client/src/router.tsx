import { lazy, Suspense, type ComponentType, type LazyExoticComponent } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';

import { AppLayout } from './components/AppLayout';
import { AdminOnly, BusinessOnly, HomeRedirect, RequireAuth } from './components/Guards';
import { LoadingState } from './components/QueryState';

// Route-level code splitting: each page is its own chunk, loaded when first visited.
const LoginPage = lazy(() => import('./pages/auth/LoginPage'));
const BusinessesPage = lazy(() => import('./pages/admin/BusinessesPage'));
const UsersPage = lazy(() => import('./pages/admin/UsersPage'));
const AuditPage = lazy(() => import('./pages/admin/AuditPage'));
const DashboardPage = lazy(() => import('./pages/business/DashboardPage'));
const PromptsPage = lazy(() => import('./pages/business/PromptsPage'));
const LeadsPage = lazy(() => import('./pages/business/leads/LeadsPage'));
const LeadPage = lazy(() => import('./pages/business/leads/LeadPage'));
const CallsPage = lazy(() => import('./pages/business/CallsPage'));
const InboxPage = lazy(() => import('./pages/business/InboxPage'));
const NotFoundPage = lazy(() => import('./pages/NotFoundPage'));

function page(Component: LazyExoticComponent<ComponentType>) {
  return <Component />;
}

export const router = createBrowserRouter([
  {
    path: '/login',
    element: (
      <Suspense fallback={<LoadingState />}>
        <LoginPage />
      </Suspense>
    ),
  },
  {
    element: <RequireAuth />,
    children: [
      {
        element: <AppLayout />,
        children: [
          { index: true, element: <HomeRedirect /> },
          {
            path: 'admin',
            element: <AdminOnly />,
            children: [
              { index: true, element: <Navigate to="/admin/businesses" replace /> },
              { path: 'businesses', element: page(BusinessesPage) },
              { path: 'users', element: page(UsersPage) },
              { path: 'audit', element: page(AuditPage) },
              { path: '*', element: page(NotFoundPage) },
            ],
          },
          {
            path: 'app',
            element: <BusinessOnly />,
            children: [
              { index: true, element: page(DashboardPage) },
              { path: 'prompts', element: page(PromptsPage) },
              { path: 'leads', element: page(LeadsPage) },
              { path: 'leads/:leadId', element: page(LeadPage) },
              { path: 'calls', element: page(CallsPage) },
              { path: 'inbox', element: page(InboxPage) },
              { path: '*', element: page(NotFoundPage) },
            ],
          },
          { path: '*', element: page(NotFoundPage) },
        ],
      },
    ],
  },
]);
