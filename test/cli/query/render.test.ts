/**
 * The query table prints money as `results` does. Adversary: DuckDB and Athena hand decimals back
 * with the column's scale (`717124.000` yen, `16694.510` dollars), which reads as a different amount
 * of yen to a person; reshaping through a double would lose digits past 2^53 minor units.
 */
import { describe, expect, it } from 'vitest';
import { type QueryDoc, renderQuery } from '../../../src/cli/query/query.js';
import { type ReconcileReport, renderReconcile } from '../../../src/cli/reconcile/reconcile.js';

const id = (s: string): string => s;
const style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };
const doc = (rows: QueryDoc['rows']): QueryDoc => ({
  kind: 'paypipe.query',
  question: 'totals',
  engine: 'duckdb',
  target: 'local',
  range: null,
  columns: [
    { name: 'currency', type: 'VARCHAR' },
    { name: 'total_amount', type: 'DECIMAL(38,3)' },
    { name: 'avg_amount', type: 'DECIMAL(38,9)' },
  ],
  rows,
  bytesScanned: 0,
});

describe('query table money', () => {
  it("uses each currency's decimals, groups digits, keeps digits that are not zeros", () => {
    const out = renderQuery(
      doc([
        { currency: 'JPY', total_amount: '717124.000', avg_amount: '7392.000000000' },
        { currency: 'USD', total_amount: '16694.510', avg_amount: '66.861200000' },
        { currency: 'BHD', total_amount: '1.234', avg_amount: '0.100000000' },
        { currency: 'USD', total_amount: '123456789012345678.990', avg_amount: null },
      ]),
      style,
    );
    const lines = out.split('\n').slice(2);
    expect(lines[0]).toMatch(/^JPY\s+717,124\s+7,392$/);
    expect(lines[1]).toMatch(/^USD\s+16,694\.51\s+66\.8612$/);
    expect(lines[2]).toMatch(/^BHD\s+1\.234\s+0\.100$/);
    expect(lines[3]).toMatch(/^USD\s+123,456,789,012,345,678\.99\s*$/);
  });

  it('leaves columns without a currency, and text that is not a number, as they are', () => {
    const out = renderQuery(doc([{ currency: 'USD', total_amount: 'n/a', avg_amount: '1e3' }]), style);
    expect(out.split('\n')[2]).toMatch(/^USD\s+n\/a\s+1e3$/);
  });

  it('reshapes every amount column of a row with a currency (duplicates), and groups integer counts', () => {
    const d: QueryDoc = {
      ...doc([
        {
          transaction_id: 't1',
          copies: '1164',
          currency: 'USD',
          extra_payments: '2',
          extra_amount_at_most: '74.640000000',
        },
        {
          transaction_id: 't2',
          copies: '2',
          currency: 'JPY',
          extra_payments: '1',
          extra_amount_at_most: '970.000000000',
        },
      ]),
      question: 'duplicates',
      columns: [
        { name: 'transaction_id', type: 'VARCHAR' },
        { name: 'copies', type: 'BIGINT' },
        { name: 'currency', type: 'VARCHAR' },
        { name: 'extra_payments', type: 'BIGINT' },
        { name: 'extra_amount_at_most', type: 'DECIMAL(38,9)' },
      ],
    };
    const lines = renderQuery(d, style).split('\n').slice(2);
    expect(lines[0]).toMatch(/^t1\s+1,164\s+USD\s+2\s+74\.64$/);
    expect(lines[1]).toMatch(/^t2\s+2\s+JPY\s+1\s+970$/);
  });
});

describe('reconcile report lists', () => {
  const report = (dups: number, unaccounted: number): ReconcileReport => ({
    kind: 'paypipe.reconcile',
    engine: 'duckdb',
    target: 'local',
    range: { from: '2024-01-15T10:00:00.000Z', to: '2024-01-15T11:00:00.000Z' },
    ok: unaccounted === 0,
    noRawRecords: false,
    rawBufferSeconds: 60,
    records: { raw: 100 + unaccounted, counted: 100, deadLetters: 0, unaccounted, fragments: 0 },
    deadLetterReasons: {},
    mismatches: [],
    pending: [],
    unaccounted: Array.from({ length: unaccounted }, (_, i) => ({ copies: 1, line: `junk ${i}` })),
    deadLettersWithoutRaw: [],
    undecided: [],
    duplicates: Array.from({ length: dups }, (_, i) => ({
      transaction_id: `t${i}`,
      copies: 2,
      distinct_payloads: 1,
      currency: 'USD',
      extra_payments: 1,
      extra_amount_at_most: '1.5',
    })),
    bytesScanned: 0,
  });
  it('say how many more there are than shown', () => {
    const out = renderReconcile(report(57, 23), style);
    expect(out).toContain('… and 7 more (--json has all)');
    expect(out).toContain('… and 3 more (--json has all)');
    expect(renderReconcile(report(50, 20), style)).not.toContain('more (--json has all)');
  });
});
