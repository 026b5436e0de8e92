/**
 * Per-batch aggregation by (event-time window, currency), and the checks that turn a decoded
 * aggregate (from S3: untrusted) back into exact minor-unit figures.
 *
 * What the aggregator writes per batch (one atomic batch output record, see batch-output.ts) and
 * how many of them merge into exact totals (exact-merge.ts) live next door; this module is the
 * arithmetic they share: the cell figures, their rendering with the currency's decimals, and the
 * monoid that combines them.
 */
import { createHash } from 'node:crypto';
import { currencyExponent } from './currency.js';
import { oneLine, type PaymentEvent } from './event.js';
import { addMinor, averageMinor, fromMinor, MAX_TOTAL_MINOR, minorOrNegative } from './money.js';
import { isoMs, windowStartMs } from './window.js';

/** One (window, currency) cell's figures as written: JSON numbers with the currency's decimals. */
export interface CellFigures {
  window_start: string;
  window_end: string;
  currency: string;
  transaction_count: number;
  total_amount: number;
  avg_amount: number;
  min_amount: number;
  max_amount: number;
}

/** A cell with an id: the merged rows `results` prints, and the records of the old (v1) format. */
export interface Aggregate extends CellFigures {
  id: string;
}

/** Exact figures of one (window, currency) cell, in integer minor units. */
export interface Totals {
  count: number;
  totalMinor: number;
  minMinor: number;
  maxMinor: number;
}

/** Which batch of which shard a batch output comes from. */
export interface BatchRef {
  shardId: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
}

/** A cell in exact form, as the aggregator builds it. */
export interface Cell {
  windowStartMs: number;
  currency: string;
  totals: Totals;
}

/**
 * 128-bit hex id of one (batch, window, currency) cell: the id every aggregate of the old (v1)
 * output format carried. Kept to read those objects and to build them in tests.
 */
export function aggregateId(ref: BatchRef, windowStart: string, currency: string): string {
  return createHash('sha256')
    .update(
      JSON.stringify([ref.shardId, ref.firstSequenceNumber, ref.lastSequenceNumber, windowStart, currency]),
    )
    .digest('hex')
    .slice(0, 32);
}

/** The cell's figures with the fixed key order (byte-identical JSON for identical inputs). */
export function renderCell(windowStartMs: number, widthMs: number, currency: string, t: Totals): CellFigures {
  const exp = currencyExponent(currency);
  if (exp === undefined) throw new RangeError(`unknown currency ${currency}`);
  return {
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

/** An aggregate row: the id first, then the cell's figures. */
export function renderAggregate(
  id: string,
  windowStartMs: number,
  widthMs: number,
  currency: string,
  t: Totals,
): Aggregate {
  return { id, ...renderCell(windowStartMs, widthMs, currency, t) };
}

/** The monoid behind every merge: associative and commutative; undefined on overflow. */
export function combineTotals(a: Totals, b: Totals): Totals | undefined {
  const totalMinor = addMinor(a.totalMinor, b.totalMinor);
  if (totalMinor === undefined) return undefined;
  return {
    count: a.count + b.count,
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
  private readonly byWindow = new Map<number, Map<string, Totals>>();
  private cellCount = 0;

  constructor(readonly widthMs: number) {}

  /** Adds an event; false (nothing changed) when its cell's total would pass MAX_TOTAL_MINOR. */
  add(e: PaymentEvent): boolean {
    return this.addAmount(e.event_timestamp, e.currency, e.amountMinor);
  }

  /** add() from the three figures it reads (the aggregator's fast path has no event object). */
  addAmount(eventTimestamp: number, currency: string, amountMinor: number): boolean {
    const start = windowStartMs(eventTimestamp, this.widthMs);
    let byCurrency = this.byWindow.get(start);
    if (byCurrency === undefined) {
      byCurrency = new Map();
      this.byWindow.set(start, byCurrency);
    }
    const t = byCurrency.get(currency);
    const m = amountMinor;
    if (t === undefined) {
      byCurrency.set(currency, { count: 1, totalMinor: m, minMinor: m, maxMinor: m });
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
    return this.byWindow.size;
  }

  /** Distinct (window, currency) cells. */
  get size(): number {
    return this.cellCount;
  }

  /** Every cell, sorted by window start then currency (the order batch outputs are written in). */
  cells(): Cell[] {
    const out: Cell[] = [];
    for (const start of [...this.byWindow.keys()].sort((a, b) => a - b)) {
      const byCurrency = this.byWindow.get(start) as Map<string, Totals>;
      for (const currency of [...byCurrency.keys()].sort()) {
        out.push({ windowStartMs: start, currency, totals: { ...(byCurrency.get(currency) as Totals) } });
      }
    }
    return out;
  }

  /** The cells as v1 aggregates (ids per batch and cell), for tests and tools that compare figures. */
  toAggregates(ref: BatchRef): Aggregate[] {
    return this.cells().map((c) =>
      renderAggregate(
        aggregateId(ref, isoMs(c.windowStartMs), c.currency),
        c.windowStartMs,
        this.widthMs,
        c.currency,
        c.totals,
      ),
    );
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

/** A decoded cell checked and turned back into exact minor units. */
export interface ParsedCell {
  window_start: string;
  window_end: string;
  windowStartMs: number;
  windowEndMs: number;
  currency: string;
  totals: Totals;
}

/** A rendered amount back in minor units, or -1 when it is not a valid amount of that currency. */
function amountOf(a: unknown, exp: number): number {
  return typeof a === 'number' ? minorOrNegative(a, exp, MAX_TOTAL_MINOR) : -1;
}

/**
 * Checks decoded cells (from S3: untrusted) and recovers their exact minor-unit totals: the
 * rendered amounts are shortest decimals with at most the currency's decimals, so this is exact.
 * The average must be the half-even average of total and count (a record whose figures disagree
 * with each other was not written by the aggregator). Window strings are parsed once per distinct
 * pair: an hour has 60 windows but may hold a million cells, and Date parsing was most of the cost.
 */
export class CellParser {
  private readonly windows = new Map<string, { startMs: number; endMs: number } | null>();

  /** The last pair asked for: cells come in runs of one window (no key string built for those). */
  private lastStart = '';
  private lastEnd = '';
  private last: { startMs: number; endMs: number } | null = null;

  private window(start: unknown, end: unknown): { startMs: number; endMs: number } | null {
    if (typeof start !== 'string' || typeof end !== 'string') return null;
    if (start === this.lastStart && end === this.lastEnd) return this.last;
    this.lastStart = start;
    this.lastEnd = end;
    this.last = this.lookup(start, end);
    return this.last;
  }

  private lookup(start: string, end: string): { startMs: number; endMs: number } | null {
    const key = `${start}|${end}`;
    let w = this.windows.get(key);
    if (w === undefined) {
      const iso = (v: string): number | undefined => {
        if (v.length !== 24) return undefined;
        const ms = Date.parse(v);
        return Number.isFinite(ms) && isoMs(ms) === v ? ms : undefined;
      };
      const s = iso(start);
      const e = iso(end);
      w = s === undefined || e === undefined || e <= s ? null : { startMs: s, endMs: e };
      // Bounded: a stream of unique garbage windows must not grow the cache without limit.
      if (this.windows.size > 100_000) this.windows.clear();
      this.windows.set(key, w);
    }
    return w;
  }

  /**
   * The cell, or a one-line reason it is not one (the caller says which record it was). With
   * `into`, the cell is written there and returned (no allocation per cell: a reader of a million
   * cells passes one scratch cell and copies what it keeps).
   */
  parse(v: unknown, into?: ParsedCell): ParsedCell | string {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
    const o = v as Record<string, unknown>;
    const { window_start, window_end, currency, transaction_count } = o;
    const w = this.window(window_start, window_end);
    if (w === null) return `window_start/window_end are not ISO instants with start < end`;
    if (typeof currency !== 'string') return `currency is not a string`;
    const exp = currencyExponent(currency);
    if (exp === undefined) return `unknown currency ${oneLine(currency.slice(0, 40))}`;
    if (
      typeof transaction_count !== 'number' ||
      !Number.isSafeInteger(transaction_count) ||
      transaction_count < 1
    ) {
      return `transaction_count is not a positive whole number`;
    }
    const totalMinor = amountOf(o.total_amount, exp);
    const avgMinor = amountOf(o.avg_amount, exp);
    const minMinor = amountOf(o.min_amount, exp);
    const maxMinor = amountOf(o.max_amount, exp);
    const bad =
      totalMinor < 0
        ? 'total_amount'
        : avgMinor < 0
          ? 'avg_amount'
          : minMinor < 0
            ? 'min_amount'
            : maxMinor < 0
              ? 'max_amount'
              : undefined;
    if (bad !== undefined) return `${bad} is not a valid ${currency} amount`;
    if (minMinor > maxMinor) return `min_amount > max_amount`;
    if (avgMinor !== averageMinor(totalMinor, transaction_count)) {
      return `avg_amount is not total_amount / transaction_count`;
    }
    const c: ParsedCell = into ?? {
      window_start: '',
      window_end: '',
      windowStartMs: 0,
      windowEndMs: 0,
      currency: '',
      totals: { count: 0, totalMinor: 0, minMinor: 0, maxMinor: 0 },
    };
    c.window_start = window_start as string;
    c.window_end = window_end as string;
    c.windowStartMs = w.startMs;
    c.windowEndMs = w.endMs;
    c.currency = currency;
    c.totals.count = transaction_count;
    c.totals.totalMinor = totalMinor;
    c.totals.minMinor = minMinor;
    c.totals.maxMinor = maxMinor;
    return c;
  }
}

/**
 * The checks of parseAggregate without building the re-rendered record (a reader of a million old
 * aggregates passes a scratch cell in `into`, see CellParser.parse).
 */
export function parseAggregateCell(
  v: unknown,
  parser: CellParser,
  into?: ParsedCell,
): { ok: true; id: string; cell: ParsedCell } | { ok: false; detail: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, detail: 'not a JSON object' };
  const id = (v as { id?: unknown }).id;
  if (typeof id !== 'string' || id === '') return { ok: false, detail: 'id is missing or not a string' };
  const c = parser.parse(v, into);
  if (typeof c === 'string') return { ok: false, detail: `aggregate ${oneLine(id.slice(0, 64))}: ${c}` };
  return { ok: true, id, cell: c };
}

export type ParsedAggregate =
  | { ok: true; aggregate: Aggregate; totals: Totals; windowStartMs: number; windowEndMs: number }
  | { ok: false; detail: string };

const shared = new CellParser();

/**
 * Checks a decoded v1 aggregate (a cell with an id) and recovers its exact totals. Unknown extra
 * fields are dropped from the returned aggregate.
 */
export function parseAggregate(v: unknown, parser: CellParser = shared): ParsedAggregate {
  const p = parseAggregateCell(v, parser);
  if (!p.ok) return p;
  const { id, cell: c } = p;
  return {
    ok: true,
    aggregate: renderAggregate(id, c.windowStartMs, c.windowEndMs - c.windowStartMs, c.currency, c.totals),
    totals: c.totals,
    windowStartMs: c.windowStartMs,
    windowEndMs: c.windowEndMs,
  };
}
