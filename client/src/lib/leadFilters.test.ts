import { describe, expect, it } from 'vitest';

import { buildUrl } from '../api/http';
import { exportUrl } from '../api/leads';
import { isFiltered, israelWallClock, jerusalemLocalToIso, readFilters, toApiFilters, writeFilters } from './leadFilters';

describe('lead filters in the URL', () => {
  it('round-trips through the search params, keeping the view', () => {
    const params = new URLSearchParams('view=board');
    const state = { q: ' דנה ', status: ['new', 'won'], source: ['call'], tag: 'vip', assignee: 'none', from: '2026-03-01', to: '2026-03-31', sort: '-updated_at' as const };
    const written = writeFilters(params, state);
    expect(written.get('view')).toBe('board');
    expect(written.getAll('status')).toEqual(['new', 'won']);
    expect(readFilters(written)).toEqual({ ...state, q: 'דנה' });
    expect(isFiltered(readFilters(written))).toBe(true);
    expect(isFiltered(readFilters(new URLSearchParams('view=board&sort=created_at')))).toBe(false);
  });

  it('turns Israel calendar days into instants; "to" covers the whole day', () => {
    const api = toApiFilters(readFilters(new URLSearchParams('from=2026-07-01&to=2026-07-01&assignee=none')));
    expect(api.created_from).toBe('2026-06-30T21:00:00.000Z'); // summer: UTC+3
    expect(api.created_to).toBe('2026-07-01T21:00:00.000Z');
    expect(api.unassigned).toBe(true);
    expect(api.assignee_id).toBeUndefined();
    expect(toApiFilters(readFilters(new URLSearchParams('assignee=12'))).assignee_id).toBe(12);
  });

  it('repeats list filters in the query string (export uses the same filters)', () => {
    expect(buildUrl('/api/leads', { status: ['new', 'won'], q: 'x', tag: '' })).toBe('/api/leads?status=new&status=won&q=x');
    expect(exportUrl({ status: ['new'], source: ['call', 'whatsapp'] })).toBe('/api/leads/export.csv?status=new&source=call&source=whatsapp');
  });
});

describe('reminder times (Israel wall clock)', () => {
  it('reads a datetime-local value as Israel time, winter and summer', () => {
    expect(jerusalemLocalToIso('2026-01-15T09:00')).toBe('2026-01-15T07:00:00.000Z');
    expect(jerusalemLocalToIso('2026-07-15T09:00')).toBe('2026-07-15T06:00:00.000Z');
    expect(jerusalemLocalToIso('')).toBeUndefined();
  });

  it('shows an instant as Israel wall clock', () => {
    expect(israelWallClock(new Date('2026-07-15T06:00:00Z'))).toBe('2026-07-15T09:00');
    expect(israelWallClock(new Date('2026-12-31T22:30:00Z'))).toBe('2027-01-01T00:30');
  });
});
