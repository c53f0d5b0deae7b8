import { getLang, localeOf } from '../i18n';

export const TIME_ZONE = 'Asia/Jerusalem';

const cache = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let found = cache.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, ...options });
    cache.set(key, found);
  }
  return found;
}

/** A server timestamp (ISO, UTC) as Israel's wall-clock date and time. */
export function formatDateTime(value: string | null | undefined, lang = getLang()): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return formatter(localeOf(lang), { dateStyle: 'short', timeStyle: 'short' }).format(date);
}

export function formatDate(value: string | null | undefined, lang = getLang()): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return formatter(localeOf(lang), { dateStyle: 'medium' }).format(date);
}

/** Minutes and seconds left, e.g. 59:07 (or 1:02:03 past an hour). */
export function formatRemaining(milliseconds: number): string {
  const total = Math.max(0, Math.floor(milliseconds / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

/** The offset (ms) of Israel's clock from UTC at a given instant. */
function jerusalemOffset(at: Date): number {
  const parts = formatter('en-US', {
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/** 'YYYY-MM-DD' as midnight in Israel, as an ISO instant (for the audit filters). */
export function jerusalemMidnightIso(day: string, plusDays = 0): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return undefined;
  const utcMidnight = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + plusDays);
  // Two passes settle days when the clock changes.
  let instant = utcMidnight - jerusalemOffset(new Date(utcMidnight));
  instant = utcMidnight - jerusalemOffset(new Date(instant));
  return new Date(instant).toISOString();
}

/** Characters as the server counts them (code points, not UTF-16 units). */
export function charCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1; // eslint-disable-line @typescript-eslint/no-unused-vars
  return count;
}

/** Israel's wall-clock time of an instant; with the date when it is not today. */
export function formatTime(value: string | null | undefined, lang = getLang(), now = new Date()): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const day = formatter('en-CA', { dateStyle: 'short' });
  if (day.format(date) === day.format(now)) return formatter(localeOf(lang), { timeStyle: 'short' }).format(date);
  return formatter(localeOf(lang), { dateStyle: 'short', timeStyle: 'short' }).format(date);
}

/** A value inside a plain-text sentence (a toast title) kept in its own direction: U+2068 … U+2069
 *  does for a string what <bdi> does in markup (+972… stays +972… inside Hebrew). */
export function isolate(text: string): string {
  return `\u2068${text}\u2069`;
}
