/**
 * The streaming accumulators behind `results` against the domain's own definitions: the lean
 * parser accepts and rejects exactly what parseAggregate does, and the accumulator's merge equals
 * mergeAggregates on any input order with re-deliveries — while de-duplicating ids in a compact set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Aggregate,
  aggregateId,
  mergeAggregates,
  parseAggregate,
  renderAggregate,
} from '../../../src/domain/aggregate.js';
import {
  AggregateAccumulator,
  LeanAggregateParser,
  RawAccumulator,
} from '../../../src/cli/results/results-merge.js';
import { hash64, IdSet } from '../../../src/cli/results/id-set.js';
import { parseScenario } from '../../../src/cli/send/scenario.js';
import { parseExactTotal, readSummaryTotals } from '../../../src/pipeline/send-summary.js';

const W0 = Date.UTC(2024, 0, 15, 10);

describe('IdSet', () => {
  it('tells new, duplicate and conflicting keys apart across growth, including sequential and zero keys', () => {
    const s = new IdSet(4);
    for (let i = 0; i < 50_000; i++) expect(s.add(0, i, i & 7)).toBe('new');
    expect(s.size).toBe(50_000);
    for (let i = 0; i < 50_000; i += 97) expect(s.add(0, i, i & 7)).toBe('duplicate');
    expect(s.add(0, 12, 99)).toBe('conflict');
    expect(s.add(7, 0, 1)).toBe('new');
    expect(s.size).toBe(50_001);
  });

  it('hash64 separates ids that differ only in their last characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(hash64(i.toString(16).padStart(32, '0')).join(':'));
    expect(seen.size).toBe(100_000);
  });
});

const currencyArb = fc.constantFrom('USD', 'JPY', 'BHD', 'EUR');
const aggArb = fc
  .record({
    n: fc.integer({ min: 0, max: 30 }),
    minute: fc.integer({ min: 0, max: 5 }),
    currency: currencyArb,
    count: fc.integer({ min: 1, max: 50 }),
    min: fc.integer({ min: 0, max: 10_000 }),
    spread: fc.integer({ min: 0, max: 10_000 }),
  })
  .map(({ n, minute, currency, count, min, spread }) => {
    const max = min + spread;
    const total = min * count + spread;
    const ws = new Date(W0 + minute * 60_000).toISOString();
    const id = aggregateId(
      { shardId: 's', firstSequenceNumber: String(n), lastSequenceNumber: String(n) },
      ws,
      currency,
    );
    return renderAggregate(id, W0 + minute * 60_000, 60_000, currency, {
      count,
      totalMinor: total,
      minMinor: min,
      maxMinor: max,
    });
  });

describe('AggregateAccumulator', () => {
  it('merges exactly like mergeAggregates, whatever the order and the re-deliveries', () => {
    fc.assert(
      fc.property(
        fc.array(aggArb, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (aggs, redeliver) => {
          // Distinct ids only (same id with other figures is a conflict, tested below).
          const unique = [...new Map(aggs.map((a) => [a.id, a])).values()];
          const input = [...unique];
          if (unique.length > 0)
            for (const r of redeliver) input.push(unique[r % unique.length] as Aggregate);
          const acc = new AggregateAccumulator({ fromMs: W0, toMs: W0 + 3_600_000 });
          for (const a of input) acc.add(JSON.parse(JSON.stringify(a)));
          const want = mergeAggregates(input);
          expect(acc.aggregates()).toEqual(want.aggregates);
          expect(acc.duplicates).toBe(want.duplicates);
          expect(acc.conflictCount).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('surfaces a known id with other figures as a conflict and keeps the first', () => {
    const a = renderAggregate('a'.repeat(32), W0, 60_000, 'USD', {
      count: 2,
      totalMinor: 500,
      minMinor: 100,
      maxMinor: 400,
    });
    const acc = new AggregateAccumulator({ fromMs: W0, toMs: W0 + 60_000 });
    acc.add(a);
    acc.add({ ...a, transaction_count: 3 });
    expect(acc.conflictCount).toBe(1);
    expect(acc.conflicts[0]?.id).toBe(a.id);
    expect(acc.aggregates()).toEqual([a]);
  });

  it('keeps windows that overlap the range and counts the others as out of range', () => {
    const acc = new AggregateAccumulator({ fromMs: W0 + 30_000, toMs: W0 + 120_000 });
    for (const m of [-1, 0, 1, 2]) {
      acc.add(
        renderAggregate(String(m + 5).repeat(32), W0 + m * 60_000, 60_000, 'USD', {
          count: 1,
          totalMinor: 1,
          minMinor: 1,
          maxMinor: 1,
        }),
      );
    }
    expect(acc.aggregates().map((a) => a.window_start)).toEqual([
      new Date(W0).toISOString(),
      new Date(W0 + 60_000).toISOString(),
    ]);
    expect(acc.outOfRange).toBe(2);
  });
});

describe('LeanAggregateParser', () => {
  const fieldArb = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.integer({ min: -5, max: 100 }),
    fc.double({ noNaN: false }),
    fc.constantFrom(0.1, 12.345, 1e21, 5, 1234.5),
    fc.string({ maxLength: 3 }),
  );
  it('accepts and rejects exactly what parseAggregate does, with the same totals', () => {
    fc.assert(
      fc.property(
        aggArb,
        fc.record(
          {
            id: fc.oneof(fc.constant(''), fc.constant(1), fc.string({ minLength: 1, maxLength: 4 })),
            window_start: fc.oneof(
              fc.constant('2024-01-15T10:00:00.000Z'),
              fc.constant('2024-01-15T10:00:00Z'),
              fc.constant('2024-02-30T10:00:00.000Z'),
            ),
            window_end: fc.oneof(
              fc.constant('2024-01-15T09:59:00.000Z'),
              fc.constant('2024-01-15T10:00:00.000Z'),
            ),
            currency: fc.constantFrom('USD', 'usd', 'XXX', 'JPY', 3),
            transaction_count: fieldArb,
            total_amount: fieldArb,
            avg_amount: fieldArb,
            min_amount: fieldArb,
            max_amount: fieldArb,
          },
          { requiredKeys: [] },
        ),
        (base, patch) => {
          const rec = { ...base, ...patch };
          const a = parseAggregate(rec);
          const b = new LeanAggregateParser().parse(rec);
          expect(b.ok).toBe(a.ok);
          if (a.ok && b.ok) {
            expect(b.totals).toEqual(a.totals);
            expect([b.windowStartMs, b.windowEndMs]).toEqual([a.windowStartMs, a.windowEndMs]);
          }
          if (!a.ok && !b.ok) expect(b.detail).toBe(a.detail);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('RawAccumulator', () => {
  it('sums valid events in range per currency, counts repeated ids and rejects by reason', () => {
    const acc = new RawAccumulator({
      fromMs: W0,
      toMs: W0 + 120_000,
      windowMs: 60_000,
      nowMs: W0 + 3_600_000,
      maxFutureSkewMs: 0,
    });
    const ev = (id: string, amount: number, currency: string, t: number) => ({
      transaction_id: id,
      amount,
      currency,
      merchant: 'M',
      event_timestamp: t,
    });
    acc.add(ev('A', 10.5, 'USD', W0 + 1));
    acc.add(ev('A', 10.5, 'USD', W0 + 1));
    acc.add(ev('B', 0.25, 'USD', W0 + 61_000));
    acc.add(ev('C', 500, 'JPY', W0 + 5));
    acc.add(ev('D', 1, 'USD', W0 + 200_000));
    acc.add(ev('E', -1, 'USD', W0));
    acc.add('garbage');
    expect(Object.fromEntries(acc.byCurrency())).toEqual({
      USD: { count: 3, totalMinor: 2125, minMinor: 25, maxMinor: 1050 },
      JPY: { count: 1, totalMinor: 500, minMinor: 500, maxMinor: 500 },
    });
    expect(acc.duplicateIds).toBe(1);
    expect(acc.outOfRange).toBe(1);
    expect(Object.fromEntries(acc.invalidByReason)).toEqual({ amount_negative: 1, not_object: 1 });
    expect([...acc.perWindow()]).toEqual([
      [W0, 3],
      [W0 + 60_000, 1],
    ]);
  });
});

describe('flag parsing', () => {
  it('parses scenarios and presets with overrides', () => {
    expect(parseScenario('messy,late=0.3,currencies=USD:0.7+EUR:0.3,span=5m')).toEqual({
      scenario: {
        lateShare: 0.3,
        duplicateShare: 0.05,
        malformedShare: 0.02,
        currencies: { USD: 0.7, EUR: 0.3 },
      },
      spanMs: 300_000,
    });
    expect(() => parseScenario('currencies=USD:x')).toThrow(/weight of USD must be a number/);
    expect(() => parseScenario('late-max=10s')).toThrow(/late-max must be a duration from 60s/);
  });

  it('reads send summaries exactly and rejects anything else naming the file', () => {
    expect(parseExactTotal('1234.50', 'USD')).toBe(123450);
    expect(parseExactTotal('1234', 'JPY')).toBe(1234);
    expect(parseExactTotal('1.234', 'USD')).toBeUndefined();
    const doc = {
      kind: 'paypipe.send-summary',
      byCurrency: { USD: { count: 2, total: '0.30' } },
      eventTime: null,
    };
    expect(Object.fromEntries(readSummaryTotals(doc, 's.json').totals)).toEqual({
      USD: { count: 2, totalMinor: 30 },
    });
    expect(() => readSummaryTotals({ kind: 'x' }, 's.json')).toThrow(
      /--verify s.json: is not a send summary/,
    );
    expect(() =>
      readSummaryTotals({ ...doc, byCurrency: { USD: { count: 1, total: '1.001' } } }, 's.json'),
    ).toThrow(/not an exact USD amount/);
  });
});
