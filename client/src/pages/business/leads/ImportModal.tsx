import { Alert, Button, FileInput, Group, Modal, ScrollArea, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { importCsv, type ImportReport, type ImportRowError } from '../../../api/leads';
import { errorText } from '../../../components/QueryState';
import { useI18n } from '../../../i18n';
import { useRefreshLeads } from './queries';

/** How many row problems the report lists on screen (the counts are always complete). */
const SHOWN = 200;

export function ImportModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const refresh = useRefreshLeads();
  const [file, setFile] = useState<File | null>(null);
  const [dryRun, setDryRun] = useState<ImportReport | null>(null);
  const [done, setDone] = useState<ImportReport | null>(null);

  const check = useMutation({
    mutationFn: (f: File) => importCsv(f, true),
    onSuccess: setDryRun,
  });
  const run = useMutation({
    mutationFn: (f: File) => importCsv(f, false),
    onSuccess: (report) => {
      setDone(report);
      void refresh();
    },
  });

  const reset = () => {
    setDryRun(null);
    setDone(null);
    check.reset();
    run.reset();
  };
  const close = () => {
    reset();
    setFile(null);
    onClose();
  };
  const report = done ?? dryRun;

  return (
    <Modal opened={opened} onClose={close} title={t('import.title')} size="xl">
      <Stack gap="sm" data-testid="import-modal">
        <Text size="sm" c="dimmed">
          {t('import.explain')}
        </Text>
        <FileInput
          label={t('import.file')}
          placeholder={t('import.choose')}
          accept=".csv,text/csv"
          value={file}
          onChange={(value) => {
            setFile(value);
            reset();
          }}
          clearable
          data-testid="import-file"
        />
        {check.error || run.error ? (
          <Alert color="red" title={t('import.failed')} role="alert">
            {errorText(check.error ?? run.error)}
          </Alert>
        ) : null}
        {report ? <ImportReportView report={report} /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={close}>
            {done ? t('common.close') : t('common.cancel')}
          </Button>
          {done ? null : (
            <>
              <Button variant="light" disabled={!file} loading={check.isPending} onClick={() => file && check.mutate(file)} data-testid="import-check">
                {t('import.check')}
              </Button>
              <Button disabled={!file || !dryRun || dryRun.rows === 0} loading={run.isPending} onClick={() => file && run.mutate(file)} data-testid="import-run">
                {t('import.run')}
              </Button>
            </>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}

function ImportReportView({ report }: { report: ImportReport }) {
  const { t } = useI18n();
  const stat = (label: string, value: number, testId: string) => (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} data-testid={testId}>
        {value.toLocaleString('en-US')}
      </Text>
    </div>
  );
  return (
    <Stack gap="xs" data-testid={report.dry_run ? 'import-dry-run' : 'import-done'}>
      <Alert color={report.errors.length ? 'orange' : 'green'} variant="light" title={t(report.dry_run ? 'import.dryRunTitle' : 'import.doneTitle')}>
        <SimpleGrid cols={5}>
          {stat(t('import.rows'), report.rows, 'import-rows')}
          {stat(t(report.dry_run ? 'import.willCreate' : 'import.created'), report.created, 'import-created')}
          {stat(t(report.dry_run ? 'import.willMerge' : 'import.merged'), report.merged, 'import-merged')}
          {stat(t('import.folded'), report.folded, 'import-folded')}
          {stat(t('import.skipped'), report.skipped, 'import-skipped')}
          {stat(t('import.errors'), report.errors.length, 'import-errors-count')}
        </SimpleGrid>
      </Alert>
      <RowProblems title={t('import.errorList')} rows={report.errors} color="red" testId="import-errors" />
      <RowProblems title={t('import.warningList')} rows={report.warnings} color="orange" testId="import-warnings" />
    </Stack>
  );
}

function RowProblems({ title, rows, color, testId }: { title: string; rows: ImportRowError[]; color: string; testId: string }) {
  const { t } = useI18n();
  if (rows.length === 0) return null;
  return (
    <div>
      <Text fw={600} size="sm" c={color} mb={4}>
        {title} ({rows.length.toLocaleString('en-US')})
      </Text>
      <ScrollArea.Autosize mah={240}>
        <Table fz="xs" striped data-testid={testId}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('import.col.row')}</Table.Th>
              <Table.Th>{t('import.col.field')}</Table.Th>
              <Table.Th>{t('import.col.message')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.slice(0, SHOWN).map((row, index) => (
              <Table.Tr key={`${row.row}-${row.field}-${index}`}>
                <Table.Td>{row.row}</Table.Td>
                <Table.Td>
                  <bdi>{row.field}</bdi>
                </Table.Td>
                <Table.Td>
                  <bdi>{row.message}</bdi>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea.Autosize>
      {rows.length > SHOWN ? (
        <Text size="xs" c="dimmed">
          {t('import.more', { count: rows.length - SHOWN })}
        </Text>
      ) : null}
    </div>
  );
}
