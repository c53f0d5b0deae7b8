import { useQuery } from '@tanstack/react-query';

import { getCurrentBusiness, getPrompt, getPromptHistory } from '../../api/business';
import { useCurrentMe } from '../../components/MeContext';
import { tenantKey } from '../../session';

export function useCurrentBusiness() {
  const me = useCurrentMe();
  return useQuery({ queryKey: tenantKey(me, 'business'), queryFn: ({ signal }) => getCurrentBusiness(signal) });
}

export function usePromptKeys() {
  const me = useCurrentMe();
  return { prompt: tenantKey(me, 'prompt'), history: tenantKey(me, 'prompt', 'history') };
}

export function usePrompt() {
  const keys = usePromptKeys();
  return useQuery({ queryKey: keys.prompt, queryFn: ({ signal }) => getPrompt(signal), staleTime: 0 });
}

export function usePromptHistory() {
  const keys = usePromptKeys();
  return useQuery({ queryKey: keys.history, queryFn: ({ signal }) => getPromptHistory(50, signal) });
}
