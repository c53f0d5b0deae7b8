import { http } from './http';

export const PROMPT_MAX_CHARS = 20_000;

export interface CurrentBusiness {
  id: number;
  name: string;
  timezone: string;
  is_active: boolean;
  voice_numbers: string[];
  whatsapp_numbers: string[];
}

export interface UserRef {
  id: number;
  email: string;
  full_name: string;
}

export interface PromptPair {
  calls_prompt: string;
  whatsapp_prompt: string;
}

export interface Prompt extends PromptPair {
  business_id: number;
  version: number;
  updated_at: string | null;
  updated_by: UserRef | null;
}

export interface PromptVersion extends PromptPair {
  version: number;
  saved_at: string;
  saved_by: UserRef | null;
  impersonation_id: number | null;
}

export const getCurrentBusiness = (signal?: AbortSignal) =>
  http.get<CurrentBusiness>('/api/business/current', undefined, signal);
export const getPrompt = (signal?: AbortSignal) =>
  http.get<Prompt>('/api/business/current/prompt', undefined, signal);
/** The body is exactly the two prompts (SPEC). */
export const savePrompt = (pair: PromptPair) =>
  http.put<Prompt>('/api/business/current/prompt', {
    calls_prompt: pair.calls_prompt,
    whatsapp_prompt: pair.whatsapp_prompt,
  });
export const getPromptHistory = (limit = 50, signal?: AbortSignal) =>
  http.get<{ items: PromptVersion[] }>('/api/business/current/prompt/history', { limit }, signal);
