import { describe, expect, it } from 'vitest';

import { charCount, formatDateTime, formatRemaining, jerusalemMidnightIso } from './format';

describe('dates are Israel time', () => {
  it('midnight in Jerusalem, winter (UTC+2) and summer (UTC+3)', () => {
    expect(jerusalemMidnightIso('2026-01-15')).toBe('2026-01-14T22:00:00.000Z');
    expect(jerusalemMidnightIso('2026-07-15')).toBe('2026-07-14T21:00:00.000Z');
    expect(jerusalemMidnightIso('2026-07-15', 1)).toBe('2026-07-15T21:00:00.000Z');
    expect(jerusalemMidnightIso('not a date')).toBeUndefined();
  });

  it('formats a UTC instant as the wall clock in Israel', () => {
    expect(formatDateTime('2026-07-14T21:30:00Z', 'he')).toMatch(/(^|\D)0?0:30$/);
    expect(formatDateTime('2026-07-14T21:30:00Z', 'he')).toContain('15.7.2026');
  });
});

describe('counts and countdowns', () => {
  it('counts characters as the server does (code points)', () => {
    expect(charCount('שלום')).toBe(4);
    expect(charCount('🙂a')).toBe(2);
    expect('🙂a'.length).toBe(3);
  });

  it('shows the time left', () => {
    expect(formatRemaining(59 * 60_000 + 7_000)).toBe('59:07');
    expect(formatRemaining(3_723_000)).toBe('1:02:03');
    expect(formatRemaining(-5)).toBe('0:00');
  });
});
