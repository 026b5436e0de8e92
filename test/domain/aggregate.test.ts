import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Aggregate,
  aggregateBatch,
  aggregateId,
  type BatchRef,
  combineTotals,
  parseAggregate,
} from '../../src/domain/aggregate.js';
import { mergeRecords } from '../../src/domain/exact-merge.js';
import { currencyExponent } from '../../src/domain/currency.js';
import type { PaymentEvent } from '../../src/domain/event.js';
import { averageMinor, fromMinor, MAX_TOTAL_MINOR } from '../../src/domain/money.js';

const T0 = Date.UTC(2024, 0, 15, 10, 30);
const ref: BatchRef = {
  shardId: 'shardId-000000000000',
  firstSequenceNumber: '100',
  lastSequenceNumber: '200',
};

const ev = (currency: string, amountMinor: number, ts: number, id = 'TXN1'): PaymentEvent => ({
  transaction_id: id,
  amount: fromMinor(amountMinor, currencyExponent(currency) as number),
  amountMinor,
  currency,
  merchant: 'Amazon',
  event_timestamp: ts,
});

describe('aggregateBatch', () => {
  it('aggregates per (window, currency) with exact totals, half-even avg, min and max', () => {
    const { aggregates, overflowed } = aggregateBatch(
      [
        ev('USD', 12550, T0 + 1000),
        ev('USD', 10, T0 + 59_999),
        ev('USD', 15, T0 + 30_000),
        ev('JPY', 1500, T0 + 5000),
        ev('USD', 999, T0 + 60_000),
        ev('BHD', 1234, T0 + 2000),
        ev('BHD', 1, T0 + 3000),
      ],
      60_000,
      ref,
    );
    expect(overflowed).toEqual([]);
    const rows = aggregates.map(({ id, ...rest }) => rest);
    expect(rows).toEqual([
      {
        window_start: '2024-01-15T10:30:00.000Z',
        window_end: '2024-01-15T10:31:00.000Z',
        currency: 'BHD',
        transaction_count: 2,
        total_amount: 1.235,
        avg_amount: 0.618, // 617.5 fils → 618 (half-even: 617 is odd)
        min_amount: 0.001,
        max_amount: 1.234,
      },
      {
        window_start: '2024-01-15T10:30:00.000Z',
        window_end: '2024-01-15T10:31:00.000Z',
        currency: 'JPY',
        transaction_count: 1,
        total_amount: 1500,
        avg_amount: 1500,
        min_amount: 1500,
        max_amount: 1500,
      },
      {
        window_start: '2024-01-15T10:30:00.000Z',
        window_end: '2024-01-15T10:31:00.000Z',
        currency: 'USD',
        transaction_count: 3,
        total_amount: 125.75,
        avg_amount: 41.92, // 4191.67 cents → 4192
        min_amount: 0.1,
        max_amount: 125.5,
      },
      {
        window_start: '2024-01-15T10:31:00.000Z',
        window_end: '2024-01-15T10:32:00.000Z',
        currency: 'USD',
        transaction_count: 1,
        total_amount: 9.99,
        avg_amount: 9.99,
        min_amount: 9.99,
        max_amount: 9.99,
      },
    ]);
    expect(aggregates.map((a) => a.id)).toEqual(
      rows.map((r) => aggregateId(ref, r.window_start, r.currency)),
    );
  });

  it('re-processing the same batch yields byte-identical records with a stable key order', () => {
    const events = [ev('USD', 100, T0), ev('EUR', 250, T0 + 61_000), ev('USD', 5, T0 + 10)];
    const a = JSON.stringify(aggregateBatch(events, 60_000, ref).aggregates);
    const b = JSON.stringify(aggregateBatch([...events].reverse(), 60_000, { ...ref }).aggregates);
    expect(b).toBe(a);
    expect(Object.keys(aggregateBatch(events, 60_000, ref).aggregates[0] as Aggregate)).toEqual([
      'id',
      'window_start',
      'window_end',
      'currency',
      'transaction_count',
      'total_amount',
      'avg_amount',
      'min_amount',
      'max_amount',
    ]);
  });

  it('ids differ when any input of the id differs', () => {
    const base = aggregateId(ref, '2024-01-15T10:30:00.000Z', 'USD');
    expect(base).toMatch(/^[0-9a-f]{32}$/);
    const others = [
      aggregateId({ ...ref, shardId: 'shardId-000000000001' }, '2024-01-15T10:30:00.000Z', 'USD'),
      aggregateId({ ...ref, firstSequenceNumber: '101' }, '2024-01-15T10:30:00.000Z', 'USD'),
      aggregateId({ ...ref, lastSequenceNumber: '201' }, '2024-01-15T10:30:00.000Z', 'USD'),
      aggregateId(ref, '2024-01-15T10:31:00.000Z', 'USD'),
      aggregateId(ref, '2024-01-15T10:30:00.000Z', 'EUR'),
    ];
    expect(new Set([base, ...others]).size).toBe(6);
  });

  it('sets aside events that would push a total past 15 digits instead of rendering a wrong number', () => {
    const big = 1_000_000_000_000;
    const events = Array.from({ length: 1001 }, (_, i) => ev('USD', big, T0 + i));
    const { aggregates, overflowed } = aggregateBatch(events, 60_000, ref);
    expect(overflowed).toHaveLength(2);
    expect(aggregates[0]?.transaction_count).toBe(999);
    expect(aggregates[0]?.total_amount).toBe(9_990_000_000_000);
  });
});

describe('parseAggregate', () => {
  const good = aggregateBatch([ev('USD', 12550, T0), ev('USD', 1, T0)], 60_000, ref)
    .aggregates[0] as Aggregate;

  it('accepts our records and recovers exact minor units', () => {
    const p = parseAggregate(JSON.parse(JSON.stringify(good)));
    expect(p).toMatchObject({
      ok: true,
      totals: { count: 2, totalMinor: 12551, minMinor: 1, maxMinor: 12550 },
    });
  });

  it.each([
    ['not an object', 5, /not a JSON object/],
    ['no id', { ...good, id: undefined }, /id is missing/],
    ['bad window', { ...good, window_start: '2024-01-15 10:30' }, /window_start/],
    ['end before start', { ...good, window_end: good.window_start }, /window_start/],
    ['unknown currency', { ...good, currency: 'ZZZ' }, /unknown currency ZZZ/],
    ['zero count', { ...good, transaction_count: 0 }, /transaction_count/],
    ['fractional count', { ...good, transaction_count: 1.5 }, /transaction_count/],
    ['too precise total', { ...good, total_amount: 1.001 }, /total_amount/],
    ['string amount', { ...good, max_amount: '125.50' }, /max_amount/],
    ['min > max', { ...good, min_amount: 200 }, /min_amount > max_amount/],
  ])('rejects %s', (_, value, detail) => {
    const p = parseAggregate(value);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.detail).toMatch(detail);
  });
});

describe('old-format (v1) aggregates through the merge: by id', () => {
  it('counts a duplicate id once and combines the rest', () => {
    const a = aggregateBatch([ev('USD', 100, T0), ev('USD', 300, T0)], 60_000, ref).aggregates;
    const b = aggregateBatch([ev('USD', 50, T0 + 1)], 60_000, {
      ...ref,
      firstSequenceNumber: '201',
      lastSequenceNumber: '201',
    }).aggregates;
    const m = mergeRecords([...a, ...b, ...a]);
    expect(m.stats.duplicates).toBe(1);
    expect(m.stats.legacy).toEqual({ aggregates: 2, duplicates: 1 });
    expect(m.issues).toEqual([]);
    expect(m.aggregates).toHaveLength(1);
    expect(m.aggregates[0]).toMatchObject({
      transaction_count: 3,
      total_amount: 4.5,
      avg_amount: 1.5,
      min_amount: 0.5,
      max_amount: 3,
    });
  });

  it('surfaces two different records under one id instead of summing them', () => {
    const [a] = aggregateBatch([ev('USD', 100, T0)], 60_000, ref).aggregates as [Aggregate];
    const forged = {
      ...a,
      transaction_count: 2,
      total_amount: 2,
      max_amount: 1,
      min_amount: 1,
      avg_amount: 1,
    };
    const m = mergeRecords([a, forged]);
    expect(m.issues).toEqual([
      expect.objectContaining({ kind: 'id_conflict', id: a.id, affectsRange: true }),
    ]);
    expect(m.complete).toBe(false);
    expect(m.aggregates).toEqual([a]);
  });

  it('reports a total that would pass 15 digits as an overflow issue', () => {
    const big = 1_000_000_000_000;
    const parts = Array.from(
      { length: 3 },
      (_, i) =>
        aggregateBatch(
          Array.from({ length: 400 }, (_, j) => ev('USD', big, T0 + j)),
          60_000,
          { ...ref, firstSequenceNumber: String(i) },
        ).aggregates,
    ).flat();
    const m = mergeRecords(parts);
    expect(m.issues.map((i) => i.kind)).toEqual(['overflow']);
    expect(m.complete).toBe(false);
    expect(m.aggregates[0]?.transaction_count).toBe(800);
  });

  it('combineTotals overflow is detected', () => {
    const t = { count: 1, totalMinor: MAX_TOTAL_MINOR, minMinor: 1, maxMinor: 1 };
    expect(combineTotals(t, { ...t, totalMinor: 1 })).toBeUndefined();
  });
});

// ---- properties -------------------------------------------------------------------------------

const CURRENCIES = ['USD', 'JPY', 'BHD', 'EUR'] as const;
const eventArb = fc
  .record({
    currency: fc.constantFrom(...CURRENCIES),
    minor: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1_000_000_000 })),
    offset: fc.integer({ min: 0, max: 5 * 60_000 - 1 }),
  })
  .map(({ currency, minor, offset }) => ev(currency, minor, T0 + offset));

/** The model: per (window, currency) exact figures computed the obvious way. */
function model(events: readonly PaymentEvent[], widthMs: number) {
  const cells = new Map<
    string,
    { count: number; total: bigint; min: number; max: number; currency: string; start: number }
  >();
  for (const e of events) {
    const start = Math.floor(e.event_timestamp / widthMs) * widthMs;
    const k = `${start}|${e.currency}`;
    const c = cells.get(k) ?? {
      count: 0,
      total: 0n,
      min: Infinity,
      max: -Infinity,
      currency: e.currency,
      start,
    };
    c.count++;
    c.total += BigInt(e.amountMinor);
    c.min = Math.min(c.min, e.amountMinor);
    c.max = Math.max(c.max, e.amountMinor);
    cells.set(k, c);
  }
  return [...cells.values()]
    .sort((a, b) => a.start - b.start || (a.currency < b.currency ? -1 : 1))
    .map((c) => {
      const exp = currencyExponent(c.currency) as number;
      return {
        window_start: new Date(c.start).toISOString(),
        window_end: new Date(c.start + widthMs).toISOString(),
        currency: c.currency,
        transaction_count: c.count,
        total_amount: fromMinor(Number(c.total), exp),
        avg_amount: fromMinor(averageMinor(Number(c.total), c.count), exp),
        min_amount: fromMinor(c.min, exp),
        max_amount: fromMinor(c.max, exp),
      };
    });
}

const withoutId = (aggs: readonly Aggregate[]) => aggs.map(({ id, ...rest }) => rest);

/** Splits events into consecutive batches with cut points, each batch a (shard, seq range). */
function batchesOf(events: readonly PaymentEvent[], cuts: readonly number[], shards: readonly number[]) {
  const points = [...new Set(cuts.map((c) => c % (events.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...points, events.length];
  const out: { ref: BatchRef; events: PaymentEvent[] }[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i] as number;
    const hi = bounds[i + 1] as number;
    if (hi <= lo) continue;
    out.push({
      ref: {
        shardId: `shardId-00000000000${(shards[i] ?? 0) % 4}`,
        firstSequenceNumber: String(1_000_000 + lo),
        lastSequenceNumber: String(1_000_000 + hi - 1),
      },
      events: events.slice(lo, hi),
    });
  }
  return out;
}

describe('aggregate-then-merge (properties)', () => {
  it('any batching, any order, any batch delivered twice = aggregating the distinct events once, exactly', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 16 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom(60_000, 120_000),
        fc.infiniteStream(fc.nat()),
        (events, cuts, shards, redeliver, width, order) => {
          const batches = batchesOf(events, cuts, shards);
          const outputs = batches.map((b) => aggregateBatch(b.events, width, b.ref).aggregates);
          // A redelivered batch is processed again (Lambda retry) and yields the same records.
          for (const i of redeliver) {
            const b = batches[i % batches.length];
            if (b !== undefined) outputs.push(aggregateBatch(b.events, width, b.ref).aggregates);
          }
          const all = outputs.flat();
          // Shuffle with the stream of random numbers.
          const it = order[Symbol.iterator]();
          for (let i = all.length - 1; i > 0; i--) {
            const j = (it.next().value as number) % (i + 1);
            [all[i], all[j]] = [all[j] as Aggregate, all[i] as Aggregate];
          }
          const m = mergeRecords(all);
          expect(m.issues).toEqual([]);
          expect(withoutId(m.aggregates)).toEqual(model(events, width));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('merge is commutative and associative (ids included) over id-disjoint groups', () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        (events, cuts, s1, s2) => {
          const aggs = batchesOf(events, cuts, []).flatMap(
            (b) => aggregateBatch(b.events, 60_000, b.ref).aggregates,
          );
          const i = s1 % (aggs.length + 1);
          const j = i + (s2 % (aggs.length - i + 1));
          const [x, y, z] = [aggs.slice(0, i), aggs.slice(i, j), aggs.slice(j)];
          const whole = mergeRecords([...x, ...y, ...z]).aggregates;
          const mx = mergeRecords(x).aggregates;
          const my = mergeRecords(y).aggregates;
          const mz = mergeRecords(z).aggregates;
          const left = mergeRecords([...mergeRecords([...mx, ...my]).aggregates, ...mz]).aggregates;
          const right = mergeRecords([...mx, ...mergeRecords([...my, ...mz]).aggregates]).aggregates;
          const swapped = mergeRecords([...z, ...x, ...y].reverse()).aggregates;
          expect(left).toEqual(whole);
          expect(right).toEqual(whole);
          expect(swapped).toEqual(whole);
        },
      ),
      { numRuns: 200 },
    );
  });
});
