import { Alert, List } from '@mantine/core';

import { ApiError, fieldErrors } from '../api/http';
import { errorText } from './QueryState';

/** The server's refusal of a form: its message, plus any field errors that no input shows. */
export function FormError({ error, title, shownFields = [] }: { error: unknown; title: string; shownFields?: string[] }) {
  if (!error) return null;
  const fields = fieldErrors(error);
  const others = Object.entries(fields).filter(([name]) => !shownFields.includes(name));
  return (
    <Alert color="red" title={title} role="alert" data-testid="form-error">
      {error instanceof ApiError && error.status === 422 && others.length === 0 ? null : errorText(error)}
      {others.length > 0 ? (
        <List size="sm" mt={4}>
          {others.map(([name, message]) => (
            <List.Item key={name}>
              <bdi>{name}</bdi>: {message}
            </List.Item>
          ))}
        </List>
      ) : null}
    </Alert>
  );
}
