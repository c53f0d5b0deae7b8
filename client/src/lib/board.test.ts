import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';

import type { Lead } from '../api/leads';
import {
  beginMove,
  type ColumnData,
  columnLeads,
  confirmMove,
  firstPageOnly,
  neighbourStatus,
  rollbackMove,
  withLeadOnTop,
  withStatus,
} from './board';

function lead(id: number, status: string): Lead {
  return {
    id,
    business_id: 1,
    full_name: `lead ${id}`,
    phone: `+97250000000${id}`,
    phone_valid: true,
    email: null,
    source: 'manual',
    status,
    notes: '',
    tags: [],
    assignee_id: null,
    last_inbound_at: null,
    status_changed_at: null,
    status_changed_by_id: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

function column(...pages: Lead[][]): ColumnData {
  return { pages: pages.map((items, i) => ({ items, next_cursor: i < pages.length - 1 ? `c${i}` : null })), pageParams: pages.map((_, i) => (i ? `c${i - 1}` : undefined)) };
}

const NEW = ['tenant', 1, 'leads', 'board', 'new', {}];
const CONTACTED = ['tenant', 1, 'leads', 'board', 'contacted', {}];

function setup() {
  const client = new QueryClient();
  client.setQueryData(NEW, column([lead(1, 'new'), lead(2, 'new')], [lead(3, 'new')]));
  client.setQueryData(CONTACTED, column([lead(9, 'contacted')]));
  return client;
}

const ids = (client: QueryClient, key: unknown[]) => columnLeads(client.getQueryData<ColumnData>(key)).map((l) => [l.id, l.status]);

describe('board move', () => {
  it('moves the card at once: out of its column, on top of the target, with the new status', async () => {
    const client = setup();
    await beginMove(client, NEW, CONTACTED, lead(3, 'new'), 'contacted');
    expect(ids(client, NEW)).toEqual([
      [1, 'new'],
      [2, 'new'],
    ]);
    expect(ids(client, CONTACTED)).toEqual([
      [3, 'contacted'],
      [9, 'contacted'],
    ]);
    // The page structure (cursors) of both columns is kept.
    expect(client.getQueryData<ColumnData>(NEW)!.pages).toHaveLength(2);
  });

  it('rolls back both columns exactly when the server refuses', async () => {
    const client = setup();
    const before = { new: client.getQueryData(NEW), contacted: client.getQueryData(CONTACTED) };
    const context = await beginMove(client, NEW, CONTACTED, lead(1, 'new'), 'contacted');
    rollbackMove(client, context);
    expect(client.getQueryData(NEW)).toEqual(before.new);
    expect(client.getQueryData(CONTACTED)).toEqual(before.contacted);
  });

  it('rolls back into a target column that was never loaded (leaves it unloaded)', async () => {
    const client = setup();
    const WON = ['tenant', 1, 'leads', 'board', 'won', {}];
    const context = await beginMove(client, NEW, WON, lead(2, 'new'), 'won');
    expect(ids(client, WON)).toEqual([[2, 'won']]);
    rollbackMove(client, context);
    expect(client.getQueryData(WON)).toBeUndefined();
    expect(ids(client, NEW).map(([id]) => id)).toEqual([1, 2, 3]);
  });

  it("takes the server's row on success", async () => {
    const client = setup();
    const context = await beginMove(client, NEW, CONTACTED, lead(1, 'new'), 'contacted');
    const saved = { ...lead(1, 'contacted'), status_changed_at: '2026-02-02T10:00:00Z', status_changed_by_id: 7 };
    confirmMove(client, context, saved);
    const moved = columnLeads(client.getQueryData<ColumnData>(CONTACTED))[0]!;
    expect(moved).toEqual(saved);
  });

  it('cancels fetches in flight so a late answer cannot undo the move on screen', async () => {
    const client = setup();
    let resolve: (value: ColumnData) => void = () => {};
    const late = client.fetchQuery({ queryKey: NEW, queryFn: () => new Promise<ColumnData>((r) => (resolve = r)), staleTime: 0 });
    await beginMove(client, NEW, CONTACTED, lead(1, 'new'), 'contacted');
    resolve(column([lead(1, 'new'), lead(2, 'new')]));
    await late.catch(() => undefined);
    expect(ids(client, NEW).map(([id]) => id)).toEqual([2, 3]);
  });

  it('shows a lead once when two keyset pages both carry it', () => {
    const data = column([lead(1, 'new'), lead(2, 'new')], [lead(2, 'new'), lead(3, 'new')]);
    expect(columnLeads(data).map((l) => l.id)).toEqual([1, 2, 3]);
  });

  it('never doubles a card already in the target column', () => {
    const data = withLeadOnTop(column([lead(9, 'contacted'), lead(3, 'contacted')]), lead(3, 'contacted'));
    expect(columnLeads(data).map((l) => l.id)).toEqual([3, 9]);
  });

  it('finds the neighbouring column for the keyboard', () => {
    const order = ['new', 'contacted', 'qualified', 'won', 'lost'];
    expect(neighbourStatus(order, 'new', 1)).toBe('contacted');
    expect(neighbourStatus(order, 'new', -1)).toBeNull();
    expect(neighbourStatus(order, 'lost', 1)).toBeNull();
    expect(neighbourStatus(order, 'won', -1)).toBe('qualified');
    expect(neighbourStatus(order, 'gone', 1)).toBeNull();
  });
});

describe('a status change in a loaded list, without reading it again', () => {
  const list = () => column([lead(1, 'new'), lead(2, 'new')], [lead(3, 'contacted'), lead(4, 'new')]);

  it('changes the rows in place, on every page, in an unfiltered list', () => {
    const next = withStatus(list(), new Set([2, 4]), 'won');
    expect(next.pages.map((page) => page.items.map((l) => `${l.id}:${l.status}`))).toEqual([
      ['1:new', '2:won'],
      ['3:contacted', '4:won'],
    ]);
    expect(next.pages[0]!.items[1]!.status_changed_at).not.toBeNull();
    expect(next.pageParams).toEqual(list().pageParams);
  });

  it('keeps them in a list filtered to include that status, drops them from one that does not', () => {
    expect(columnLeads(withStatus(list(), new Set([2]), 'won', ['new', 'won'])).map((l) => l.id)).toEqual([1, 2, 3, 4]);
    expect(columnLeads(withStatus(list(), new Set([2, 4]), 'won', ['new'])).map((l) => l.id)).toEqual([1, 3]);
  });

  it('an off-screen list keeps only its first page and the cursor after it', () => {
    const trimmed = firstPageOnly(list());
    expect(trimmed.pages).toHaveLength(1);
    expect(trimmed.pages[0]!.next_cursor).toBe('c0');
    expect(trimmed.pageParams).toEqual([undefined]);
  });
});
