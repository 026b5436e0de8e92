/**
 * Generated histories of the aggregator under at-least-once delivery (a simulated Lambda event
 * source mapping: retries, bisections, reported items, partial writes, Firehose duplicates, any
 * order). Shared by the TypeScript merge's property test and the SQL merge's.
 */
import fc from 'fast-check';
import { BatchAggregator } from '../../src/domain/aggregate.js';
import { renderBatchOutput } from '../../src/domain/batch-output.js';
import { currencyExponent } from '../../src/domain/currency.js';
import type { PaymentEvent } from '../../src/domain/event.js';
import { fromMinor } from '../../src/domain/money.js';

export const T0 = Date.UTC(2024, 0, 15, 10, 30);
export const WIDTH = 60_000;
export const CURRENCIES = ['USD', 'JPY', 'BHD'] as const;

export interface SimRecord {
  seq: bigint;
  /** undefined: a record the aggregator rejects (it is in the batch's range, never in a total). */
  event: PaymentEvent | undefined;
}

export type WriteMode = 'none' | 'some' | 'all';
export interface Fault {
  kind: 'ok' | 'timeout' | 'fail' | 'report';
  write: WriteMode;
  /** Which item is reported / which parts get through / how many newer records a retry takes in. */
  at: number;
  grow: number;
}

export interface World {
  shards: SimRecord[][];
  batchSize: number;
  bisect: boolean;
  /** Output record size limit: small values force multi-part outputs. */
  maxBytes: number;
  faults: Fault[];
  sizes: number[];
  duplicates: number[];
  order: number[];
}

export const recordArb = fc.record({
  valid: fc.nat({ max: 9 }).map((x) => x > 0),
  window: fc.nat({ max: 3 }),
  currency: fc.constantFrom(...CURRENCIES),
  minor: fc.integer({ min: 1, max: 5_000_000 }),
  gap: fc.integer({ min: 1, max: 1_000_000 }),
});

export const faultArb: fc.Arbitrary<Fault> = fc.record({
  kind: fc.constantFrom<Fault['kind']>('ok', 'timeout', 'timeout', 'fail', 'fail', 'report'),
  write: fc.constantFrom<WriteMode>('none', 'some', 'all'),
  at: fc.nat(),
  grow: fc.nat({ max: 6 }),
});

export const worldArb: fc.Arbitrary<World> = fc
  .record({
    shards: fc.array(fc.array(recordArb, { minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 3 }),
    batchSize: fc.integer({ min: 1, max: 10 }),
    bisect: fc.boolean(),
    maxBytes: fc.constantFrom(700, 900, 1200, 1_048_320),
    faults: fc.array(faultArb, { maxLength: 14 }),
    sizes: fc.array(fc.nat(), { maxLength: 20 }),
    duplicates: fc.array(fc.nat(), { maxLength: 8 }),
    order: fc.array(fc.nat(), { maxLength: 64 }),
  })
  .map((w) => ({
    ...w,
    shards: w.shards.map((recs, s) => {
      // Kinesis-like: 56-digit sequence numbers (far past 2^53), increasing with gaps.
      let seq = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n + BigInt(s);
      return recs.map((r, i): SimRecord => {
        seq += BigInt(r.gap);
        const exp = currencyExponent(r.currency) as number;
        return {
          seq,
          event: r.valid
            ? {
                transaction_id: `S${s}R${i}`,
                amount: fromMinor(r.minor, exp),
                amountMinor: r.minor,
                currency: r.currency,
                merchant: 'Amazon',
                event_timestamp: T0 + r.window * WIDTH + (i % 59) * 1000,
              }
            : undefined,
        };
      });
    }),
  }));

export const shardId = (s: number): string => `shardId-${String(s).padStart(12, '0')}`;

/** What the aggregator writes for a batch: its batch output records (one, or parts). */
export function outputOf(shard: number, range: readonly SimRecord[], maxBytes: number): string[] {
  const acc = new BatchAggregator(WIDTH);
  for (const r of range) if (r.event !== undefined) acc.add(r.event);
  return renderBatchOutput(
    {
      shardId: shardId(shard),
      firstSequenceNumber: (range[0] as SimRecord).seq.toString(),
      lastSequenceNumber: (range.at(-1) as SimRecord).seq.toString(),
    },
    range.length,
    acc.cells(),
    WIDTH,
    maxBytes,
  );
}

export interface History {
  /** Every output record that reached the output stream, in write order. */
  written: string[];
  /** Invocations, for the record. */
  invocations: Array<{ shard: number; first: string; last: string; outcome: string }>;
}

/**
 * The event source mapping, per shard, in order: a batch is handled to completion (success, or
 * bisected halves each handled to completion) before anything after it, as Lambda does per shard.
 * Faults come from the world's list and stop when it runs out, so every history terminates with
 * every record in a batch that succeeded (nothing expires).
 */
export function simulate(w: World): History {
  const h: History = { written: [], invocations: [] };
  const faults = w.faults[Symbol.iterator]();
  const sizes = w.sizes[Symbol.iterator]();
  const next = (): Fault => faults.next().value ?? { kind: 'ok', write: 'all', at: 0, grow: 0 };
  w.shards.forEach((records, s) => {
    let frontier = 0; // records before it have been read by the mapping
    const write = (range: SimRecord[], mode: WriteMode, at: number): void => {
      const lines = outputOf(s, range, w.maxBytes);
      if (mode === 'all') h.written.push(...lines);
      else if (mode === 'some' && lines.length > 1) {
        // Parts go out in one PutRecords and may fail independently: any strict subset.
        const keep = lines.filter((_, i) => ((at >> i) & 1) === 1);
        h.written.push(...(keep.length === lines.length ? keep.slice(1) : keep));
      }
    };
    const log = (range: SimRecord[], outcome: string): void => {
      h.invocations.push({
        shard: s,
        first: (range[0] as SimRecord).seq.toString(),
        last: (range.at(-1) as SimRecord).seq.toString(),
        outcome,
      });
    };
    const grow = (range: SimRecord[], n: number): SimRecord[] => {
      const room = Math.max(0, Math.min(n, w.batchSize - range.length, records.length - frontier));
      const more = records.slice(frontier, frontier + room);
      frontier += room;
      return range.concat(more);
    };
    /** Handles `range` to completion; `tail`: it ends at the frontier (a retry may take in more). */
    const handle = (input: SimRecord[], tail: boolean): void => {
      let range = input;
      for (;;) {
        const f = next();
        if (f.kind === 'ok') {
          log(range, 'ok');
          write(range, 'all', 0);
          return;
        }
        if (f.kind === 'report' && range.length > 1) {
          // The function wrote (exactly) the records before the reported item and asked for the rest again.
          const i = 1 + (f.at % (range.length - 1));
          log(range, `reported item ${i + 1}`);
          write(range.slice(0, i), 'all', 0);
          range = range.slice(i);
          continue;
        }
        if (f.kind === 'timeout') {
          log(range, `timed out after writing ${f.write}`);
          write(range, f.write, f.at);
          if (w.bisect && range.length > 1) {
            const mid = Math.ceil(range.length / 2);
            handle(range.slice(0, mid), false);
            handle(range.slice(mid), tail);
            return;
          }
        } else {
          log(range, `returned a failure after writing ${f.write}`);
          write(range, f.write, f.at);
        }
        if (tail && f.grow > 0) range = grow(range, f.grow);
      }
    };
    while (frontier < records.length) {
      const size = 1 + ((sizes.next().value ?? w.batchSize) % w.batchSize);
      const range = records.slice(frontier, frontier + size);
      frontier += range.length;
      handle(range, true);
    }
  });
  return h;
}

/** Firehose: some records delivered twice; S3 objects read back in any order. */
export function delivered(w: World, h: History): unknown[] {
  const recs = [...h.written];
  for (const d of w.duplicates) if (recs.length > 0) recs.push(recs[d % recs.length] as string);
  const order = w.order[Symbol.iterator]();
  for (let i = recs.length - 1; i > 0; i--) {
    const j = (order.next().value ?? i * 7919) % (i + 1);
    [recs[i], recs[j]] = [recs[j] as string, recs[i] as string];
  }
  return recs.map((r) => JSON.parse(r));
}
