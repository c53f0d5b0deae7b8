import { Button, Group, MultiSelect, SegmentedControl, Select, Stack, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { lazy, Suspense, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';

import { exportUrl, LEAD_SOURCES, type LeadSort } from '../../../api/leads';
import { useCurrentMe } from '../../../components/MeContext';
import { PageHeader } from '../../../components/PageHeader';
import { LoadingState } from '../../../components/QueryState';
import { useI18n } from '../../../i18n';
import { type FilterState, isFiltered, readFilters, toApiFilters, writeFilters } from '../../../lib/leadFilters';
import { useUrlText } from '../../../lib/useUrlText';
import { sourceLabel } from './labels';
import { LeadsTable } from './LeadsTable';
import { useStatuses } from './queries';

// Not in the table's first load: the board (a view of its own) and the two dialogs.
const LeadsBoard = lazy(() => import('./LeadsBoard').then((module) => ({ default: module.LeadsBoard })));
const CreateLeadModal = lazy(() => import('./CreateLeadModal').then((module) => ({ default: module.CreateLeadModal })));
const ImportModal = lazy(() => import('./ImportModal').then((module) => ({ default: module.ImportModal })));

export default function LeadsPage() {
  const { t } = useI18n();
  const [params, setParams] = useSearchParams();
  const view = params.get('view') === 'board' ? 'board' : 'table';
  const filters = useMemo(() => readFilters(params), [params]);
  const apiFilters = useMemo(() => toApiFilters(filters), [filters]);
  const [creating, createModal] = useDisclosure(false);
  const [importing, importModal] = useDisclosure(false);
  // Once opened, a dialog stays mounted: closing it keeps its state and its closing transition.
  const [created, setCreated] = useState(false);
  const [imported, setImported] = useState(false);
  if (creating && !created) setCreated(true);
  if (importing && !imported) setImported(true);

  const setFilters = (next: FilterState) => setParams(writeFilters(params, next), { replace: true });
  const setView = (value: string) => {
    const next = new URLSearchParams(params);
    if (value === 'board') next.set('view', 'board');
    else next.delete('view');
    setParams(next, { replace: true });
  };

  return (
    <Stack gap="sm">
      <PageHeader
        title={t('nav.leads')}
        actions={
          <>
            <SegmentedControl
              value={view}
              onChange={setView}
              data={[
                { value: 'table', label: t('leads.view.table') },
                { value: 'board', label: t('leads.view.board') },
              ]}
              data-testid="leads-view"
            />
            <Button variant="default" component="a" href={exportUrl(apiFilters)} download data-testid="export-leads">
              {t('leads.export')}
            </Button>
            <Button variant="default" onClick={importModal.open} data-testid="import-leads">
              {t('leads.import')}
            </Button>
            <Button onClick={createModal.open} data-testid="new-lead">
              {t('leads.new')}
            </Button>
          </>
        }
      />
      <LeadFiltersBar filters={filters} onChange={setFilters} hideStatus={view === 'board'} />
      {view === 'table' ? (
        <LeadsTable filters={apiFilters} filtered={isFiltered(filters)} />
      ) : (
        <Suspense fallback={<LoadingState />}>
          <LeadsBoard filters={{ ...apiFilters, status: undefined }} />
        </Suspense>
      )}
      {/* Loaded on first open, kept mounted after (they close with their own transition). */}
      <Suspense fallback={null}>
        {creating || created ? <CreateLeadModal opened={creating} onClose={createModal.close} /> : null}
        {importing || imported ? <ImportModal opened={importing} onClose={importModal.close} /> : null}
      </Suspense>
    </Stack>
  );
}

function LeadFiltersBar({
  filters,
  onChange,
  hideStatus,
}: {
  filters: FilterState;
  onChange: (next: FilterState) => void;
  hideStatus: boolean;
}) {
  const { t } = useI18n();
  const me = useCurrentMe();
  const statuses = useStatuses();
  const [q, setQ] = useUrlText(filters.q, (value) => onChange({ ...filters, q: value }));
  const [tag, setTag] = useUrlText(filters.tag, (value) => onChange({ ...filters, tag: value }));

  const assigneeOptions = [
    { value: '', label: t('common.all') },
    ...(me.role === 'business' ? [{ value: String(me.user.id), label: t('leads.filter.mine') }] : []),
    { value: 'none', label: t('leads.filter.unassigned') },
  ];

  return (
    <Group gap="sm" wrap="wrap" align="flex-end" data-testid="lead-filters">
      <TextInput
        label={t('common.search')}
        placeholder={t('leads.searchPlaceholder')}
        value={q}
        onChange={(event) => setQ(event.currentTarget.value)}
        w={240}
        data-testid="lead-search"
      />
      {hideStatus ? null : (
        <MultiSelect
          label={t('leads.col.status')}
          data={(statuses.data ?? []).map((s) => ({ value: s.key, label: s.label }))}
          value={filters.status}
          onChange={(status) => onChange({ ...filters, status })}
          clearable
          w={200}
          data-testid="filter-status"
        />
      )}
      <MultiSelect
        label={t('leads.col.source')}
        data={LEAD_SOURCES.map((s) => ({ value: s, label: t(sourceLabel(s)) }))}
        value={filters.source}
        onChange={(source) => onChange({ ...filters, source })}
        clearable
        w={180}
      />
      <TextInput label={t('leads.col.tags')} value={tag} onChange={(event) => setTag(event.currentTarget.value)} w={130} />
      <Select
        label={t('leads.filter.assignee')}
        data={assigneeOptions}
        value={filters.assignee}
        onChange={(value) => onChange({ ...filters, assignee: value ?? '' })}
        allowDeselect={false}
        w={150}
      />
      <TextInput
        label={t('leads.filter.from')}
        type="date"
        value={filters.from}
        onChange={(event) => onChange({ ...filters, from: event.currentTarget.value })}
        w={150}
      />
      <TextInput
        label={t('leads.filter.to')}
        type="date"
        value={filters.to}
        onChange={(event) => onChange({ ...filters, to: event.currentTarget.value })}
        w={150}
      />
      <Select
        label={t('leads.sort')}
        data={[
          { value: '-created_at', label: t('leads.sort.newest') },
          { value: 'created_at', label: t('leads.sort.oldest') },
          { value: '-updated_at', label: t('leads.sort.updated') },
          { value: 'updated_at', label: t('leads.sort.leastUpdated') },
        ]}
        value={filters.sort}
        onChange={(value) => onChange({ ...filters, sort: (value ?? '-created_at') as LeadSort })}
        allowDeselect={false}
        w={170}
      />
      {isFiltered(filters) ? (
        <Button
          variant="subtle"
          onClick={() => onChange({ q: '', status: [], source: [], tag: '', assignee: '', from: '', to: '', sort: filters.sort })}
        >
          {t('common.clearFilters')}
        </Button>
      ) : null}
    </Group>
  );
}
