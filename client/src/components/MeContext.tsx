import { createContext, useContext } from 'react';

import type { Me } from '../api/auth';

export const MeContext = createContext<Me | null>(null);

/** The signed-in user, inside the routes that RequireAuth guards. */
export function useCurrentMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useCurrentMe() outside RequireAuth');
  return me;
}
