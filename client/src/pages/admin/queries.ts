import { type QueryClient, useQuery, useQueryClient } from '@tanstack/react-query';

import { type Business, getBusiness, type Paged } from '../../api/admin';

export const businessesKey = ['admin', 'businesses'] as const;

/** A business already in a cached list page (the businesses table, a picker's results). */
function cachedBusiness(client: QueryClient, id: number): Business | undefined {
  for (const [, data] of client.getQueriesData<Paged<Business> | Business>({ queryKey: businessesKey })) {
    if (data && 'items' in data) {
      const found = data.items.find((business) => business.id === id);
      if (found) return found;
    }
  }
  return undefined;
}

/** One business by id (GET /api/admin/businesses/<id>), unless a loaded list already has it:
 *  names beyond any list's first page still show. */
export function useBusiness(id: number | null) {
  const client = useQueryClient();
  return useQuery({
    queryKey: [...businessesKey, 'one', id],
    queryFn: ({ signal }) => getBusiness(id as number, signal),
    enabled: id !== null,
    staleTime: 5 * 60_000,
    initialData: () => (id === null ? undefined : cachedBusiness(client, id)),
  });
}
