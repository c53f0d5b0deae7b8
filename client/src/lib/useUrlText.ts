import { useDebouncedCallback } from '@mantine/hooks';
import { useState } from 'react';

/**
 * A text box whose value lives in the URL (the leads search and tag): the box follows typing at
 * once, the URL after `wait` ms without typing; a URL change that did not come from the box (Back,
 * a link, "clear filters") puts the URL's value in the box instead of being typed over again.
 * Strings only: a debounced object would be a new value on every render, and so a new render
 * every `wait` ms forever.
 */
export function useUrlText(
  urlValue: string,
  commit: (value: string) => void,
  wait = 300,
): [text: string, setText: (value: string) => void] {
  const [text, setText] = useState(urlValue);
  // The URL value the box last agreed with; any other one came from outside.
  const [agreed, setAgreed] = useState(urlValue);
  if (urlValue !== agreed) {
    setAgreed(urlValue);
    setText(urlValue);
  }
  const commitLater = useDebouncedCallback((value: string) => {
    const next = value.trim();
    if (next === urlValue) return;
    setAgreed(next);
    commit(next);
  }, wait);
  const change = (value: string) => {
    setText(value);
    commitLater(value);
  };
  return [text, change];
}
