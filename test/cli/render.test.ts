import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Style } from '../../src/cli/io.js';
import {
  formatCount,
  checkTotals,
  countsPerWindow,
  formatAmount,
  renderAggregateTable,
  renderTotalsCheck,
  renderWindowChart,
  totalsByCurrency,
} from '../../src/cli/render/aggregates.js';
import { renderStatusLine } from '../../src/cli/local/status-line.js';
import type { LocalStatus } from '../../src/local/status.js';

const id = (s: string): string => s;
const plain: Style = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

const rows = [
  {
    window_start: '2024-01-15T10:31:00.000Z',
    currency: 'USD',
    transaction_count: 2,
    total_amount: 1234567.5,
    avg_amount: 617283.75,
    min_amount: 0.1,
    max_amount: 1234567.4,
  },
  {
    window_start: '2024-01-15T10:30:00.000Z',
    currency: 'USD',
    transaction_count: 3,
    total_amount: 0.3,
    avg_amount: 0.1,
    min_amount: 0.1,
    max_amount: 0.1,
  },
  {
    window_start: '2024-01-15T10:30:00.000Z',
    currency: 'JPY',
    transaction_count: 1,
    total_amount: 1500,
    avg_amount: 1500,
    min_amount: 1500,
    max_amount: 1500,
  },
];

describe('aggregate rendering', () => {
  it('formats amounts exactly with the currency decimals and grouping', () => {
    expect(formatAmount(1234567.5, 'USD')).toBe('1,234,567.50');
    expect(formatAmount(0.1 + 0.2, 'USD')).toBe('0.30');
    expect(formatAmount(1500, 'JPY')).toBe('1,500');
    expect(formatAmount(1.005, 'BHD')).toBe('1.005');
  });

  it('renders one row per window and currency, time-ordered, window label once', () => {
    const t = renderAggregateTable(rows, plain).split('\n');
    expect(t[0]).toMatch(/^window \(UTC\)\s+currency\s+count\s+total\s+avg\s+min\s+max$/);
    expect(t[2]).toMatch(/^2024-01-15 10:30\s+JPY\s+1\s+1,500\s+1,500\s+1,500\s+1,500$/);
    expect(t[3]).toMatch(/^\s+USD\s+3\s+0\.30\s+0\.10\s+0\.10\s+0\.10$/);
    expect(t[4]).toMatch(
      /^2024-01-15 10:31\s+USD\s+2\s+1,234,567\.50\s+617,283\.75\s+0\.10\s+1,234,567\.40$/,
    );
    // Right-aligned numbers: every row has the same length up to the last column's right edge.
    expect(new Set(t.slice(2).map((l) => l.length)).size).toBe(1);
  });

  it('charts transactions per window and checks totals both ways', () => {
    expect(countsPerWindow(rows)).toEqual([
      { window_start: '2024-01-15T10:30:00.000Z', count: 4 },
      { window_start: '2024-01-15T10:31:00.000Z', count: 2 },
    ]);
    const chart = renderWindowChart(rows, plain, 10).split('\n');
    expect(chart[0]).toBe(`10:30 ${'█'.repeat(10)} 4`);
    expect(chart[1]).toBe(`10:31 ${'█'.repeat(5)}${' '.repeat(5)} 2`);

    const actual = totalsByCurrency(rows);
    expect(actual.get('USD')).toEqual({ count: 5, totalMinor: 123456780 });
    const ok = checkTotals(
      new Map([
        ['USD', { count: 5, totalMinor: 123456780 }],
        ['JPY', { count: 1, totalMinor: 1500 }],
      ]),
      actual,
    );
    expect(ok.every((c) => c.ok)).toBe(true);
    const bad = checkTotals(
      new Map([
        ['USD', { count: 5, totalMinor: 123456781 }],
        ['EUR', { count: 1, totalMinor: 100 }],
      ]),
      actual,
    );
    expect(bad.map((c) => [c.currency, c.ok])).toEqual([
      ['EUR', false],
      ['JPY', false],
      ['USD', false],
    ]);
    const text = renderTotalsCheck(bad, plain);
    expect(text).toContain('✗ USD  sent 5 payments / 1,234,567.81, aggregates say 5 / 1,234,567.80');
    expect(text).toContain('✗ EUR  sent 1 payment / 1.00, aggregates say 0 / 0.00');
    // The checks themselves carry exact decimals, like `send --json` (no grouping).
    expect(bad.map((c) => c.expectedTotal)).toEqual(['1.00', '0', '1234567.81']);
  });

  it('status line: full and compact', () => {
    const s = {
      eventsIn: 1200,
      aggregatesOut: 35,
      deadLettered: 3,
      failedBatches: 0,
      lag: [
        {
          shardId: 'shardId-000000000000',
          millisBehindLatest: 0,
          pendingAgeMs: 0,
          pendingRecords: 0,
          checkpoint: '1',
        },
        {
          shardId: 'shardId-000000000001',
          millisBehindLatest: 0,
          pendingAgeMs: 1500,
          pendingRecords: 7,
          checkpoint: '2',
        },
      ],
    } as unknown as LocalStatus;
    expect(renderStatusLine(s, plain)).toBe(
      'events in 1,200 · aggregates out 35 · lag shard-0 0 ms, shard-1 1.5 s (7 pending) · dead-lettered 3 · failed batches 0',
    );
    expect(renderStatusLine(s, plain, { compact: true })).toBe(
      'in 1,200 · out 35 · lag 1.5 s (7 pending) · dead-lettered 3 · failed 0',
    );
    // A parked delivery (the bucket was deleted) must not read as healthy.
    const parked = {
      ...s,
      firehose: {
        raw: {},
        analytics: { parked: { kind: 'bucket-missing', bucket: 'paypipe-dev-analytics-results' } },
      },
    } as unknown as LocalStatus;
    expect(renderStatusLine(parked, plain)).toMatch(
      / · failed batches 0 · analytics delivery parked \(bucket paypipe-dev-analytics-results missing\)$/,
    );
    expect(renderStatusLine(parked, plain, { compact: true })).toMatch(/ · failed 0 · analytics parked$/);
  });
});

describe('formatCount', () => {
  // The adversary: any number a count can be (and some it cannot): grouped exactly as Intl does.
  it('prints what Intl en-US prints, for any safe integer and any other number (property)', () => {
    const intl = new Intl.NumberFormat('en-US');
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -1e6, max: 1e12 }), fc.maxSafeInteger(), fc.double({ noNaN: true })),
        (n) => {
          expect(formatCount(n)).toBe(intl.format(n));
        },
      ),
      { numRuns: 2000 },
    );
    for (const n of [0, -0, 999, 1000, -1000, 1_000_000, Number.MAX_SAFE_INTEGER])
      expect(formatCount(n)).toBe(intl.format(n));
  });
});
