/**
 * Per-batch aggregation by (event-time window, currency), and the merge that turns many
 * per-batch aggregates (possibly delivered more than once) into exact per-window figures.
 *
 * WHY a per-batch id makes duplicates exact: the aggregator never fails PART of a batch's output.
 * If writing any aggregate (or the dead-letter object) fails, it reports the batch's FIRST
 * sequence number as the batch item failure, so Lambda retries exactly the same records and the
 * same (shard, first seq, last seq, window, currency) → the same ids come out again, byte for byte.
 * Aggregates of the failed attempt that did reach the stream, and any Firehose/Kinesis duplicate,
 * therefore carry an id that is already known, and `mergeAggregates` counts each id once. (The
 * local pipeline replays the exact in-flight batch after a crash for the same reason.) Two
 * records with the same id but different figures cannot come from this scheme, so merge surfaces
 * them as a data error instead of picking or summing.
 */
import { createHash } from 'node:crypto';
import { currencyExponent } from './currency.js';
import type { PaymentEvent } from './event.js';
import { addMinor, averageMinor, fromMinor, MAX_TOTAL_MINOR, toMinor } from './money.js';
import { isoMs, windowStartMs } from './window.js';

/** One output record: JSON numbers rendered with the currency's decimals; key order is fixed. */
export interface Aggregate {
  id: string;
  window_start: string;
  window_end: string;
  currency: string;
  transaction_count: number;
  total_amount: number;
  avg_amount: number;
  min_amount: number;
  max_amount: number;
}

/** Exact figures of one (window, currency) cell, in integer minor units. */
export interface Totals {
  count: number;
  totalMinor: number;
  minMinor: number;
  maxMinor: number;
}

/** Which batch the aggregates come from: what makes their ids deterministic. */
export interface BatchRef {
  shardId: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
}

/** 128-bit hex id of one (batch, window, currency) cell. JSON array input: no delimiter ambiguity. */
export function aggregateId(ref: BatchRef, windowStart: string, currency: string): string {
  return createHash('sha256')
    .update(
      JSON.stringify([ref.shardId, ref.firstSequenceNumber, ref.lastSequenceNumber, windowStart, currency]),
    )
    .digest('hex')
    .slice(0, 32);
}

/** Builds the record with the fixed key order (byte-identical JSON for identical inputs). */
export function renderAggregate(
  id: string,
  windowStartMs: number,
  widthMs: number,
  currency: string,
  t: Totals,
): Aggregate {
  const exp = currencyExponent(currency);
  if (exp === undefined) throw new RangeError(`unknown currency ${currency}`);
  return {
    id,
    window_start: isoMs(windowStartMs),
    window_end: isoMs(windowStartMs + widthMs),
    currency,
    transaction_count: t.count,
    total_amount: fromMinor(t.totalMinor, exp),
    avg_amount: fromMinor(averageMinor(t.totalMinor, t.count), exp),
    min_amount: fromMinor(t.minMinor, exp),
    max_amount: fromMinor(t.maxMinor, exp),
  };
}

/** The monoid behind every merge: associative and commutative; undefined on overflow. */
export function combineTotals(a: Totals, b: Totals): Totals | undefined {
  const totalMinor = addMinor(a.totalMinor, b.totalMinor);
  const count = a.count + b.count;
  if (totalMinor === undefined) return undefined;
  return {
    count,
    totalMinor,
    minMinor: Math.min(a.minMinor, b.minMinor),
    maxMinor: Math.max(a.maxMinor, b.maxMinor),
  };
}

/**
 * Accumulates one batch's valid events per (window, currency). Nested maps keyed by the window
 * start number and the currency: no per-record key string is built on the hot path.
 */
export class BatchAggregator {
  private readonly cells = new Map<number, Map<string, Totals>>();
  private cellCount = 0;

  constructor(readonly widthMs: number) {}

  /** Adds an event; false (nothing changed) when its cell's total would pass MAX_TOTAL_MINOR. */
  add(e: PaymentEvent): boolean {
    const start = windowStartMs(e.event_timestamp, this.widthMs);
    let byCurrency = this.cells.get(start);
    if (byCurrency === undefined) {
      byCurrency = new Map();
      this.cells.set(start, byCurrency);
    }
    const t = byCurrency.get(e.currency);
    const m = e.amountMinor;
    if (t === undefined) {
      byCurrency.set(e.currency, { count: 1, totalMinor: m, minMinor: m, maxMinor: m });
      this.cellCount++;
      return true;
    }
    const total = t.totalMinor + m;
    if (total > MAX_TOTAL_MINOR) return false;
    t.totalMinor = total;
    t.count++;
    if (m < t.minMinor) t.minMinor = m;
    if (m > t.maxMinor) t.maxMinor = m;
    return true;
  }

  /** Distinct windows seen. */
  get windows(): number {
    return this.cells.size;
  }

  /** Distinct (window, currency) cells = aggregates that toAggregates will return. */
  get size(): number {
    return this.cellCount;
  }

  /** One aggregate per cell, sorted by window start then currency (stable output order). */
  toAggregates(ref: BatchRef): Aggregate[] {
    const out: Aggregate[] = [];
    for (const start of [...this.cells.keys()].sort((a, b) => a - b)) {
      const byCurrency = this.cells.get(start) as Map<string, Totals>;
      for (const currency of [...byCurrency.keys()].sort()) {
        const ws = isoMs(start);
        out.push(
          renderAggregate(
            aggregateId(ref, ws, currency),
            start,
            this.widthMs,
            currency,
            byCurrency.get(currency) as Totals,
          ),
        );
      }
    }
    return out;
  }
}

/** Aggregates a batch's valid events; events that would overflow a cell's total are returned apart. */
export function aggregateBatch(
  events: Iterable<PaymentEvent>,
  widthMs: number,
  ref: BatchRef,
): { aggregates: Aggregate[]; overflowed: PaymentEvent[] } {
  const acc = new BatchAggregator(widthMs);
  const overflowed: PaymentEvent[] = [];
  for (const e of events) if (!acc.add(e)) overflowed.push(e);
  return { aggregates: acc.toAggregates(ref), overflowed };
}

export type ParsedAggregate =
  | { ok: true; aggregate: Aggregate; totals: Totals; windowStartMs: number; windowEndMs: number }
  | { ok: false; detail: string };

const ISO = (v: unknown): number | undefined => {
  if (typeof v !== 'string' || v.length !== 24) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) && isoMs(ms) === v ? ms : undefined;
};

/**
 * Checks a decoded record (e.g. from S3) is an Aggregate and recovers its exact minor-unit
 * totals (the rendered amounts are shortest decimals, so this is exact). Unknown extra fields are
 * dropped from the returned aggregate.
 */
export function parseAggregate(v: unknown): ParsedAggregate {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, detail: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  const { id, window_start, window_end, currency, transaction_count } = o;
  if (typeof id !== 'string' || id === '') return { ok: false, detail: 'id is missing or not a string' };
  const startMs = ISO(window_start);
  const endMs = ISO(window_end);
  if (startMs === undefined || endMs === undefined || endMs <= startMs) {
    return {
      ok: false,
      detail: `aggregate ${id}: window_start/window_end are not ISO instants with start < end`,
    };
  }
  if (typeof currency !== 'string') return { ok: false, detail: `aggregate ${id}: currency is not a string` };
  const exp = currencyExponent(currency);
  if (exp === undefined) return { ok: false, detail: `aggregate ${id}: unknown currency ${currency}` };
  if (
    typeof transaction_count !== 'number' ||
    !Number.isSafeInteger(transaction_count) ||
    transaction_count < 1
  ) {
    return { ok: false, detail: `aggregate ${id}: transaction_count is not a positive whole number` };
  }
  const minor: number[] = [];
  for (const f of ['total_amount', 'avg_amount', 'min_amount', 'max_amount'] as const) {
    const a = o[f];
    const r = typeof a === 'number' ? toMinor(a, exp, MAX_TOTAL_MINOR) : undefined;
    if (r === undefined || !r.ok) {
      return { ok: false, detail: `aggregate ${id}: ${f} is not a valid ${currency} amount` };
    }
    minor.push(r.minor);
  }
  const [totalMinor, , minMinor, maxMinor] = minor as [number, number, number, number];
  if (minMinor > maxMinor) return { ok: false, detail: `aggregate ${id}: min_amount > max_amount` };
  const totals = { count: transaction_count, totalMinor, minMinor, maxMinor };
  return {
    ok: true,
    aggregate: renderAggregate(id, startMs, endMs - startMs, currency, totals),
    totals,
    windowStartMs: startMs,
    windowEndMs: endMs,
  };
}

export type MergeIssue =
  /** Same id, different figures: cannot happen by re-delivery, so it is surfaced, never summed. */
  | { kind: 'id_conflict'; id: string; kept: Aggregate; other: Aggregate }
  /** The cell's total would pass MAX_TOTAL_MINOR; the record was not added. */
  | { kind: 'overflow'; id: string; window_start: string; currency: string };

export interface MergeResult {
  /** One per (window, currency), sorted by window_start then currency. */
  aggregates: Aggregate[];
  /** Records skipped because their id was already counted with identical figures. */
  duplicates: number;
  issues: MergeIssue[];
}

const sameFigures = (a: Aggregate, b: Aggregate): boolean =>
  a.window_start === b.window_start &&
  a.window_end === b.window_end &&
  a.currency === b.currency &&
  a.transaction_count === b.transaction_count &&
  a.total_amount === b.total_amount &&
  a.avg_amount === b.avg_amount &&
  a.min_amount === b.min_amount &&
  a.max_amount === b.max_amount;

const HEX_ID = /^[0-9a-f]{32}$/;

/** XOR of our 128-bit hex ids, 32 bits at a time (foreign id formats: hash of the sorted ids). */
function xorIds(ids: readonly string[]): string {
  const first = ids[0] as string;
  if (ids.length === 1) return first;
  if (!ids.every((id) => HEX_ID.test(id))) {
    return createHash('sha256')
      .update(JSON.stringify([...ids].sort()))
      .digest('hex')
      .slice(0, 32);
  }
  let out = '';
  for (let i = 0; i < first.length; i += 8) {
    let x = 0;
    for (const id of ids) x ^= Number.parseInt(id.slice(i, i + 8), 16) | 0;
    out += (x >>> 0).toString(16).padStart(8, '0');
  }
  return out;
}

interface Cell {
  startMs: number;
  widthMs: number;
  currency: string;
  totals: Totals;
  ids: string[];
}

/**
 * Streaming merge: add aggregates one by one (memory: one entry per distinct id + one per cell),
 * read the result at the end. The merged record's id is the XOR of its distinct source ids: a
 * single source keeps its id, and (being associative and commutative like the figures) merging
 * merged outputs of disjoint inputs gives the same id as merging everything at once.
 */
export class AggregateMerger {
  private readonly seen = new Map<string, Aggregate>();
  private readonly cells = new Map<string, Cell>();
  private duplicates = 0;
  private readonly issues: MergeIssue[] = [];

  /** Adds a record already checked by parseAggregate (or built by the aggregator). */
  add(agg: Aggregate): void {
    const prior = this.seen.get(agg.id);
    if (prior !== undefined) {
      if (sameFigures(prior, agg)) this.duplicates++;
      else this.issues.push({ kind: 'id_conflict', id: agg.id, kept: prior, other: agg });
      return;
    }
    const parsed = parseAggregate(agg);
    if (!parsed.ok) throw new RangeError(parsed.detail);
    const key = `${agg.window_start}|${agg.window_end}|${agg.currency}`;
    const cell = this.cells.get(key);
    if (cell === undefined) {
      this.cells.set(key, {
        startMs: parsed.windowStartMs,
        widthMs: parsed.windowEndMs - parsed.windowStartMs,
        currency: agg.currency,
        totals: parsed.totals,
        ids: [agg.id],
      });
    } else {
      const t = combineTotals(cell.totals, parsed.totals);
      if (t === undefined) {
        this.issues.push({
          kind: 'overflow',
          id: agg.id,
          window_start: agg.window_start,
          currency: agg.currency,
        });
        return;
      }
      cell.totals = t;
      cell.ids.push(agg.id);
    }
    this.seen.set(agg.id, agg);
  }

  result(): MergeResult {
    const cells = [...this.cells.values()].sort(
      (a, b) =>
        a.startMs - b.startMs ||
        a.widthMs - b.widthMs ||
        (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
    );
    const aggregates = cells.map((c) =>
      renderAggregate(xorIds(c.ids), c.startMs, c.widthMs, c.currency, c.totals),
    );
    return { aggregates, duplicates: this.duplicates, issues: [...this.issues] };
  }
}

/**
 * Merges aggregates per (window, currency): each id counts once (the first seen is kept; a
 * different record under a known id becomes an `id_conflict` issue), then counts, minor-unit
 * totals, min and max combine and avg is recomputed. Order-independent. Input records must be
 * valid (see parseAggregate); an invalid one throws RangeError.
 */
export function mergeAggregates(aggs: Iterable<Aggregate>): MergeResult {
  const m = new AggregateMerger();
  for (const a of aggs) m.add(a);
  return m.result();
}
