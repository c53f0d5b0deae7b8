import { useQuery } from '@tanstack/react-query';

import { fetchMe, isPlatform, type Me } from './api/auth';

export const meKey = ['me'] as const;

export function useMe() {
  return useQuery({ queryKey: meKey, queryFn: ({ signal }) => fetchMe(signal), staleTime: 30_000 });
}

/** Platform staff not impersonating see the admin app; everyone else the business app. */
export function isAdminMode(me: Me): boolean {
  return isPlatform(me.role) && !me.impersonating;
}

/** Keys of data that belongs to one tenant carry its id, so an impersonation switch never shows
 *  another business's cached rows. */
export function tenantKey(me: Me, ...rest: unknown[]): unknown[] {
  return ['tenant', me.tenant_id, ...rest];
}
