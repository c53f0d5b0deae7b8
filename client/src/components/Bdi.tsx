import type { ReactNode } from 'react';

/** Phone numbers, emails and other left-to-right tokens inside right-to-left text. */
export function Bdi({ children }: { children: ReactNode }) {
  return <bdi dir="ltr">{children}</bdi>;
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
