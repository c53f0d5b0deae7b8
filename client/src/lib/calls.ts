/** How calls are shown: shared by the calls page and the dashboard. */
import type { Call } from '../api/calls';

export const CALL_STATUS_COLOR: Record<string, string> = {
  completed: 'green',
  'in-progress': 'blue',
  ringing: 'blue',
  failed: 'red',
  busy: 'orange',
  'no-answer': 'orange',
};

const NOT_ANSWERED = new Set(['busy', 'no-answer', 'failed', 'canceled']);
const AI_FAILED = new Set(['unreachable', 'dropped']);

/** A caller to call back: the call was never answered, or the AI could not take it (the caller
 *  heard the fallback message or was cut off). */
export function isMissed(call: Pick<Call, 'status' | 'ai_outcome'>): boolean {
  return NOT_ANSWERED.has(call.status) || AI_FAILED.has(call.ai_outcome);
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || seconds === undefined) return '—';
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}
