import { Fragment, type ReactNode } from 'react';

import { type MessageKey, useI18n } from '../i18n';

/** A message whose {placeholders} are React nodes (a <bdi> name inside a Hebrew sentence). */
export function Trans({ k, values }: { k: MessageKey; values: Record<string, ReactNode> }) {
  const { t } = useI18n();
  const names = Object.keys(values);
  const markers = Object.fromEntries(names.map((name, index) => [name, `\u0000${index}\u0000`]));
  const pieces = t(k, markers).split('\u0000');
  return (
    <>
      {pieces.map((piece, index) =>
        index % 2 === 1 ? (
          <Fragment key={index}>{values[names[Number(piece)] ?? ''] ?? null}</Fragment>
        ) : (
          <Fragment key={index}>{piece}</Fragment>
        ),
      )}
    </>
  );
}
