import { type ComboboxItem, Select, type SelectProps } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';

import { type Business, listBusinesses } from '../../api/admin';
import { Name } from '../../components/Bdi';
import { useI18n } from '../../i18n';
import { businessesKey, useBusiness } from './queries';

const RESULTS = 20;
const MORE = '__more';

const labelOf = (business: Business) => `${business.name}${business.is_active ? '' : ' ✕'}`;

/** A business's name by id (a table cell), whichever page of the businesses list it is on. */
export function BusinessName({ id }: { id: number }) {
  const business = useBusiness(id);
  return <Name>{business.data?.name ?? `#${id}`}</Name>;
}

type PickerProps = Omit<SelectProps, 'value' | 'onChange' | 'data' | 'searchable' | 'searchValue' | 'onSearchChange' | 'filter'> & {
  value: number | null;
  onChange: (id: number | null) => void;
};

/** Pick a business by typing part of its name or number: GET /api/admin/businesses?q= answers
 *  (the server searches every business; the first 20 matches are offered). */
export function BusinessPicker({ value, onChange, ...selectProps }: PickerProps) {
  const { t } = useI18n();
  const [search, setSearch] = useState('');
  const [opened, setOpened] = useState(false);
  const chosen = useBusiness(value);
  const chosenLabel = chosen.data ? labelOf(chosen.data) : '';
  // The box shows the chosen business's name: that is not a search.
  const typed = search === chosenLabel ? '' : search.trim();
  const [q] = useDebouncedValue(typed, 250);
  const results = useQuery({
    queryKey: [...businessesKey, 'picker', q],
    queryFn: ({ signal }) => listBusinesses({ q: q || undefined, page_size: RESULTS }, signal),
    enabled: opened || q !== '',
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });

  const options: ComboboxItem[] = (results.data?.items ?? []).map((b) => ({ value: String(b.id), label: labelOf(b) }));
  if (chosen.data && !options.some((option) => option.value === String(value))) {
    options.unshift({ value: String(value), label: chosenLabel });
  }
  const more = (results.data?.total ?? 0) - (results.data?.items.length ?? 0);
  if (more > 0) options.push({ value: MORE, label: t('businesses.pickerMore', { count: more }), disabled: true });

  return (
    <Select
      {...selectProps}
      searchable
      searchValue={search}
      onSearchChange={setSearch}
      // The server already searched: show its matches as they are.
      filter={({ options: all }) => all}
      data={options}
      value={value === null ? null : String(value)}
      onChange={(next) => onChange(next && next !== MORE ? Number(next) : null)}
      onDropdownOpen={() => setOpened(true)}
      onDropdownClose={() => setOpened(false)}
      nothingFoundMessage={results.isFetching ? t('common.loading') : t('state.noResults')}
      renderOption={({ option }) => (option.value === MORE ? option.label : <Name>{option.label}</Name>)}
    />
  );
}
