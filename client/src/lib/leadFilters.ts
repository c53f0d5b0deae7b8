/** The leads page's filters live in the URL (shareable, kept on reload, the same for the export). */
import type { LeadFilters, LeadSort } from '../api/leads';
import { jerusalemMidnightIso } from './format';

export interface FilterState {
  q: string;
  status: string[];
  source: string[];
  tag: string;
  /** '' all, 'none' unassigned, or a user id */
  assignee: string;
  /** YYYY-MM-DD, Israel's calendar */
  from: string;
  to: string;
  sort: LeadSort;
}

const SORTS: LeadSort[] = ['-created_at', 'created_at', '-updated_at', 'updated_at'];

export function readFilters(params: URLSearchParams): FilterState {
  const sort = params.get('sort') as LeadSort | null;
  return {
    q: params.get('q') ?? '',
    status: params.getAll('status'),
    source: params.getAll('source'),
    tag: params.get('tag') ?? '',
    assignee: params.get('assignee') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    sort: sort && SORTS.includes(sort) ? sort : '-created_at',
  };
}

/** Writes the filters into the URL's params, keeping the others (view=board). */
export function writeFilters(params: URLSearchParams, state: FilterState): URLSearchParams {
  const next = new URLSearchParams(params);
  for (const key of ['q', 'status', 'source', 'tag', 'assignee', 'from', 'to', 'sort']) next.delete(key);
  if (state.q.trim()) next.set('q', state.q.trim());
  state.status.forEach((value) => next.append('status', value));
  state.source.forEach((value) => next.append('source', value));
  if (state.tag.trim()) next.set('tag', state.tag.trim());
  if (state.assignee) next.set('assignee', state.assignee);
  if (state.from) next.set('from', state.from);
  if (state.to) next.set('to', state.to);
  if (state.sort !== '-created_at') next.set('sort', state.sort);
  return next;
}

export function isFiltered(state: FilterState): boolean {
  return Boolean(
    state.q.trim() || state.status.length || state.source.length || state.tag.trim() || state.assignee || state.from || state.to,
  );
}

/** What the API takes: dates become Israel-midnight instants ("to" includes that whole day). */
export function toApiFilters(state: FilterState): LeadFilters {
  const assigneeId = /^\d+$/.test(state.assignee) ? Number(state.assignee) : undefined;
  return {
    q: state.q.trim() || undefined,
    status: state.status.length ? state.status : undefined,
    source: state.source.length ? state.source : undefined,
    tag: state.tag.trim() || undefined,
    assignee_id: assigneeId,
    unassigned: state.assignee === 'none' ? true : undefined,
    created_from: state.from ? jerusalemMidnightIso(state.from) : undefined,
    created_to: state.to ? jerusalemMidnightIso(state.to, 1) : undefined,
    sort: state.sort,
  };
}

/** A `datetime-local` value (Israel wall clock, no zone) as an ISO instant with its offset. */
export function jerusalemLocalToIso(value: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!match) return undefined;
  const midnight = jerusalemMidnightIso(match[1]!);
  if (!midnight) return undefined;
  // Midnight in Israel plus the wall-clock hours; DST changes happen at 02:00 and are rare enough
  // that a second pass (below) settles them.
  const guess = new Date(Date.parse(midnight) + (Number(match[2]) * 60 + Number(match[3])) * 60_000);
  const shown = israelWallClock(guess);
  const wanted = `${match[1]}T${match[2]}:${match[3]}`;
  if (shown === wanted) return guess.toISOString();
  const drift = Date.parse(`${wanted}:00Z`) - Date.parse(`${shown}:00Z`);
  return new Date(guess.getTime() + drift).toISOString();
}

const wallClock = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Jerusalem',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** An instant as Israel's wall clock, in `datetime-local` form (YYYY-MM-DDTHH:MM). */
export function israelWallClock(at: Date): string {
  const parts = Object.fromEntries(wallClock.formatToParts(at).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
