import { afterEach, describe, expect, it } from 'vitest';

import { getLang, restoreLang, setLang, translate } from '.';

afterEach(async () => {
  await setLang('he');
  localStorage.clear();
});

describe('languages', () => {
  it('Hebrew by default; English once its chunk is loaded, and remembered', async () => {
    expect(getLang()).toBe('he');
    expect(translate('common.save')).toBe('שמירה');
    await setLang('en');
    expect(getLang()).toBe('en');
    expect(translate('common.save')).toBe('Save');
    expect(document.documentElement.dir).toBe('ltr');
    expect(localStorage.getItem('crm.lang')).toBe('en');
  });

  it('restoreLang brings back the stored choice before the app renders', async () => {
    localStorage.setItem('crm.lang', 'en');
    await restoreLang();
    expect(getLang()).toBe('en');
    expect(document.documentElement.lang).toBe('en');
    expect(translate('common.save')).toBe('Save');
  });
});
