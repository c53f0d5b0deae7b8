/** The app's two languages: Hebrew (default, right to left) and English. No library: a small
 *  store that components read through useI18n() and non-React code through translate().
 *  English is its own chunk, fetched when chosen: most visits never need it (~14 KB gzipped). */
import { useCallback, useSyncExternalStore } from 'react';

import { he, type MessageKey, type Messages } from './he';

export type { MessageKey } from './he';
export type Lang = 'he' | 'en';
export type Params = Record<string, string | number>;

const dictionaries: Partial<Record<Lang, Messages>> = { he };
const loaders: Record<Lang, () => Promise<Messages>> = {
  he: async () => he,
  en: () => import('./en').then((module) => module.en),
};
const STORAGE_KEY = 'crm.lang';
const listeners = new Set<() => void>();

function storedLang(): Lang {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) === 'en' ? 'en' : 'he';
  } catch {
    return 'he';
  }
}

// Hebrew until the stored choice's dictionary is here (main.tsx waits for it before rendering).
let current: Lang = 'he';

export function directionOf(lang: Lang): 'rtl' | 'ltr' {
  return lang === 'he' ? 'rtl' : 'ltr';
}

/** Dates and numbers follow the language; the clock is always Israel's. */
export function localeOf(lang: Lang): string {
  return lang === 'he' ? 'he-IL' : 'en-IL';
}

export function getLang(): Lang {
  return current;
}

function applyToDocument(lang: Lang): void {
  if (typeof document === 'undefined') return;
  document.documentElement.lang = lang;
  document.documentElement.dir = directionOf(lang);
  document.title = (dictionaries[lang] ?? he)['app.name'];
}

async function load(lang: Lang): Promise<void> {
  dictionaries[lang] ??= await loaders[lang]();
}

/** The language chosen last time (localStorage), loaded and applied. */
export async function restoreLang(): Promise<void> {
  const lang = storedLang();
  if (lang === current) return;
  await load(lang);
  current = lang;
  applyToDocument(lang);
  listeners.forEach((listener) => listener());
}

export async function setLang(lang: Lang): Promise<void> {
  await load(lang);
  current = lang;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  applyToDocument(lang);
  listeners.forEach((listener) => listener());
}

applyToDocument(current);

function fill(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Look a key up in the current language; unknown keys give `fallback` (or the key itself). */
export function translate(key: string, params: Params = {}, fallback?: string): string {
  const dictionary = (dictionaries[current] ?? he) as Record<string, string>;
  const template = dictionary[key] ?? (he as Record<string, string>)[key];
  if (template === undefined) return fallback ?? key;
  return fill(template, params);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useI18n() {
  const lang = useSyncExternalStore(subscribe, getLang, getLang);
  // `lang` in the deps: a new t() on a language switch re-renders what uses it.
  const t = useCallback((key: MessageKey, params?: Params) => translate(key, params), [lang]); // eslint-disable-line react-hooks/exhaustive-deps
  return { lang, t, dir: directionOf(lang), locale: localeOf(lang), setLang };
}
