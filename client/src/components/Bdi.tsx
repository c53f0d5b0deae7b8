import type { ReactNode } from 'react';

/** Phone numbers, emails and other left-to-right tokens inside right-to-left text: isolated and
 *  always laid out left to right (+972 50-234-5678 never turns into 5678-234-50 972+). */
export function Bdi({ children }: { children: ReactNode }) {
  return <bdi dir="ltr">{children}</bdi>;
}

/** A name (a business, a person) inside a sentence: isolated, but its direction comes from its own
 *  text (a bare <bdi> is dir="auto"), so "קפה (חיפה) 2" stays right to left and "Cafe Roma" left to
 *  right; forcing ltr on a Hebrew name moves its brackets and numbers. */
export function Name({ children }: { children: ReactNode }) {
  return <bdi>{children}</bdi>;
}

export function PhoneList({ numbers, empty }: { numbers: string[]; empty?: ReactNode }) {
  if (numbers.length === 0) return <>{empty ?? '—'}</>;
  return (
    <>
      {numbers.map((number, index) => (
        <span key={number}>
          {index > 0 ? ', ' : null}
          <Bdi>{number}</Bdi>
        </span>
      ))}
    </>
  );
}
