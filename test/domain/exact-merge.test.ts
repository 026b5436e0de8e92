/**
 * The merge rule against its adversary: an at-least-once world that re-batches. A simulated Lambda
 * event source mapping runs random events on several shards through the real batch-output writer
 * and throws at it everything AWS is allowed to do: whole-batch retries, bisected halves after a
 * timeout, retries from a reported item, retries that take in newer records, attempts that wrote
 * all, some or none of their output before failing; then Firehose delivers some records twice and
 * the objects come back in any order. For every generated history the merged count, total, min and
 * max per (window, currency) must equal the ground truth computed from the events alone.
 *
 * The old id-only merge (each aggregate id once, then sum) is kept below as a foil: fast-check finds
 * a history where it double counts, and the canonical `[1,5]` / `[1,3]` + `[4,10]` case shows why.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aggregateId,
  BatchAggregator,
  type CellFigures,
  CellParser,
  type Totals,
} from '../../src/domain/aggregate.js';
import { parseBatchOutputPart } from '../../src/domain/batch-output.js';
import { type MergeResult, mergeRecords } from '../../src/domain/exact-merge.js';

import {
  CURRENCIES,
  delivered,
  outputOf,
  type SimRecord,
  simulate,
  T0,
  WIDTH,
  type World,
  worldArb,
} from '../factories/merge-histories.js';

type Cells = Map<string, Totals>;
const key = (windowStart: string, currency: string): string => `${windowStart}|${currency}`;

function truthOf(w: World): Cells {
  const acc = new BatchAggregator(WIDTH);
  for (const s of w.shards) for (const r of s) if (r.event !== undefined) acc.add(r.event);
  return new Map(
    acc.cells().map((c) => [key(new Date(c.windowStartMs).toISOString(), c.currency), c.totals]),
  );
}

function cellsOf(m: MergeResult): Cells {
  return new Map(m.cells.map((c) => [key(new Date(c.windowStartMs).toISOString(), c.currency), c.totals]));
}

/**
 * THE FOIL: the merge this project used before batch outputs. Each aggregate carried an id hashed
 * from (shard, batch first/last sequence, window, currency); the merge counted each id once and
 * summed. Fed here with the cells of every output record written, as the old aggregator wrote them.
 */
function idOnlyMerge(records: unknown[]): Cells {
  const parser = new CellParser();
  const seen = new Set<string>();
  const out: Cells = new Map();
  for (const r of records) {
    const p = parseBatchOutputPart(r, parser);
    if (!p.ok) throw new Error(p.detail);
    const ref = {
      shardId: p.part.header.shardId,
      firstSequenceNumber: p.part.header.first.toString(),
      lastSequenceNumber: p.part.header.last.toString(),
    };
    for (const c of p.part.cells) {
      const id = aggregateId(ref, c.window_start, c.currency);
      if (seen.has(id)) continue;
      seen.add(id);
      const k = key(c.window_start, c.currency);
      const t = out.get(k);
      if (t === undefined) out.set(k, { ...c.totals });
      else {
        t.count += c.totals.count;
        t.totalMinor += c.totals.totalMinor;
        t.minMinor = Math.min(t.minMinor, c.totals.minMinor);
        t.maxMinor = Math.max(t.maxMinor, c.totals.maxMinor);
      }
    }
  }
  return out;
}

const sameCells = (a: Cells, b: Cells): boolean =>
  a.size === b.size &&
  [...a].every(([k, t]) => {
    const u = b.get(k);
    return (
      u !== undefined &&
      u.count === t.count &&
      u.totalMinor === t.totalMinor &&
      u.minMinor === t.minMinor &&
      u.maxMinor === t.maxMinor
    );
  });

describe('exact merge under any redelivery (fast-check, simulated event source mapping)', () => {
  it('1,000 generated histories: the merged figures equal the ground truth, the totals are complete', () => {
    let multiPart = 0;
    let overlapping = 0;
    fc.assert(
      fc.property(worldArb, (w) => {
        const h = simulate(w);
        const recs = delivered(w, h);
        const m = mergeRecords(recs);
        expect(m.issues).toEqual([]);
        expect(m.complete).toBe(true);
        expect(m.stats.invalid).toBe(0);
        expect(cellsOf(m)).toEqual(truthOf(w));
        if (recs.some((r) => (r as { parts: number }).parts > 1)) multiPart++;
        if (m.stats.batchOutputs.superseded > 0) overlapping++;
      }),
      { numRuns: 1000 },
    );
    // The generator reaches the cases that matter (not a vacuous pass).
    expect(multiPart).toBeGreaterThan(50);
    expect(overlapping).toBeGreaterThan(100);
  });

  it('the old id-only merge double counts on a generated history (the foil)', () => {
    const r = fc.check(
      fc.property(worldArb, (w) => sameCells(idOnlyMerge(delivered(w, simulate(w))), truthOf(w))),
      { numRuns: 1000, seed: 12 },
    );
    expect(r.failed).toBe(true);
    const w = (r.counterexample as [World])[0];
    const h = simulate(w);
    const old = idOnlyMerge(delivered(w, h));
    const truth = truthOf(w);
    // It counts MORE than there is: records counted twice, not lost.
    const over = [...old].some(([k, t]) => t.count > (truth.get(k)?.count ?? 0));
    expect(over, JSON.stringify(h.invocations)).toBe(true);
    // ...and the merge rule gets the very same history right.
    expect(cellsOf(mergeRecords(delivered(w, h)))).toEqual(truth);
  });

  it('never counts a record twice, even when records expired between attempts', () => {
    fc.assert(
      fc.property(worldArb, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (w, drops) => {
        const h = simulate(w);
        // Expiry: some successful outputs never come (their records went to the failure destination).
        const lost = new Set(drops.map((d) => d % Math.max(1, h.written.length)));
        const kept = h.written.filter((_, i) => !lost.has(i));
        const m = mergeRecords(kept.map((x) => JSON.parse(x)));
        const truth = truthOf(w);
        for (const [k, t] of cellsOf(m)) expect(t.count).toBeLessThanOrEqual(truth.get(k)?.count ?? 0);
      }),
      { numRuns: 300 },
    );
  });
});

/** Records of a one-shard history written by hand: seq numbers 1..10, one USD payment each. */
function handWritten(ranges: Array<[number, number]>, amountOf = (i: number) => i * 100): unknown[] {
  const records: SimRecord[] = Array.from({ length: 10 }, (_, i) => ({
    seq: BigInt(i + 1),
    event: {
      transaction_id: `T${i + 1}`,
      amount: amountOf(i + 1) / 100,
      amountMinor: amountOf(i + 1),
      currency: 'USD',
      merchant: 'Amazon',
      event_timestamp: T0 + i * 1000,
    },
  }));
  return ranges.flatMap(([a, b]) =>
    outputOf(0, records.slice(a - 1, b), 1_048_320).map((l) => JSON.parse(l)),
  );
}

describe('the merge rule on the cases that defeat simpler rules', () => {
  const total = (m: MergeResult): [number, number] => [
    m.cells.reduce((s, c) => s + c.totals.count, 0),
    m.cells.reduce((s, c) => s + c.totals.totalMinor, 0),
  ];

  it('[1,5] written before a timeout, then [1,10] retried and bisected into [1,3] + [4,10]: exact', () => {
    const recs = handWritten([
      [1, 5],
      [1, 3],
      [4, 10],
    ]);
    const m = mergeRecords(recs);
    expect(m.complete).toBe(true);
    expect(total(m)).toEqual([10, 5500]);
    expect(m.stats.batchOutputs).toMatchObject({ seen: 3, complete: 3, counted: 2, superseded: 1 });
    // "Drop nested, sum the rest" keeps [1,5] + [4,10] (4 and 5 twice); id-only keeps all three.
    const old = [...idOnlyMerge(recs).values()].reduce((s, t) => s + t.count, 0);
    expect(old).toBe(15);
  });

  it('redelivered, nested and duplicated outputs in any order give the same totals', () => {
    const recs = handWritten([
      [1, 10],
      [1, 5],
      [6, 10],
      [1, 3],
      [4, 5],
      [1, 10],
      [6, 8],
      [9, 10],
    ]);
    for (const order of [recs, [...recs].reverse(), [...recs.slice(3), ...recs.slice(0, 3)]]) {
      const m = mergeRecords(order);
      expect(m.complete).toBe(true);
      expect(total(m)).toEqual([10, 5500]);
    }
  });

  it('a partial overlap with no chain names the shard and the range, and marks the totals incomplete', () => {
    // [1,3] is lost: [1,5] and [4,10] overlap and nothing covers 1..3 on its own.
    const m = mergeRecords(
      handWritten([
        [1, 5],
        [4, 10],
      ]),
    );
    expect(m.complete).toBe(false);
    const gap = m.issues.find((i) => i.kind === 'gap');
    expect(gap).toMatchObject({ kind: 'gap', shard: 'shardId-000000000000', affectsRange: true });
    expect(gap?.message).toMatch(/^shardId-000000000000 \d+\.\.\d+: no disjoint chain/);
    // Whatever was counted, nothing twice.
    expect(total(m)[0]).toBeLessThanOrEqual(10);
  });

  it('an output with a part missing is never counted, but its range must still be covered', () => {
    const records: SimRecord[] = Array.from({ length: 40 }, (_, i) => ({
      seq: BigInt(i + 1),
      event: {
        transaction_id: `T${i}`,
        amount: 1,
        amountMinor: 100,
        currency: CURRENCIES[i % 3] as string,
        merchant: 'Amazon',
        event_timestamp: T0 + i * WIDTH,
      },
    }));
    const whole = outputOf(0, records, 900);
    expect(whole.length).toBeGreaterThan(2);
    // The attempt got only its first part out; the retry succeeded in halves.
    const attempt = [whole[0] as string];
    const halves = [...outputOf(0, records.slice(0, 20), 900), ...outputOf(0, records.slice(20), 900)];
    const m = mergeRecords([...attempt, ...halves].map((l) => JSON.parse(l)));
    expect(m.complete).toBe(true);
    expect(m.stats.batchOutputs.incomplete).toBe(1);
    expect(m.cells.reduce((s, c) => s + c.totals.count, 0)).toBe(40);
    // Without the halves the first part alone counts for nothing, and the range is a gap.
    const alone = mergeRecords(attempt.map((l) => JSON.parse(l)));
    expect(alone.cells).toEqual([]);
    expect(alone.complete).toBe(false);
  });

  it('a tampered part fails its digest: reported as corrupt, not counted', () => {
    const [rec] = handWritten([[1, 10]]) as [{ aggregates: CellFigures[] }];
    const cell = rec.aggregates[0] as CellFigures;
    // Internally consistent (avg follows), but not what the batch wrote.
    cell.total_amount = cell.transaction_count * 7;
    cell.avg_amount = 7;
    cell.min_amount = 7;
    cell.max_amount = 7;
    const m = mergeRecords([rec]);
    expect(m.cells).toEqual([]);
    expect(m.complete).toBe(false);
    expect(m.issues.map((i) => i.kind)).toContain('corrupt_output');
    // More payments than the batch has records cannot even be a batch output.
    const [inflated] = handWritten([[1, 10]]) as [{ aggregates: CellFigures[] }];
    const c0 = inflated.aggregates[0] as CellFigures;
    c0.transaction_count = 11;
    c0.total_amount = 11;
    c0.avg_amount = 1;
    c0.min_amount = 1;
    c0.max_amount = 1;
    const bad = mergeRecords([inflated]);
    expect(bad.stats.invalid).toBe(1);
    expect(bad.invalidSamples[0]).toMatch(/count 11 payments in 10 records/);
  });

  it('two different complete outputs for the same range are ambiguous', () => {
    const a = handWritten([[1, 10]]);
    const b = handWritten([[1, 10]], (i) => i * 100 + 1);
    const m = mergeRecords([...a, ...b]);
    expect(m.complete).toBe(false);
    expect(m.issues).toEqual([expect.objectContaining({ kind: 'ambiguous', from: '1', to: '10' })]);
  });
});
