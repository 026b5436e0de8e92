/**
 * Streaming accumulators behind `paypipe results`: records go in one at a time as objects are
 * decoded, in any order, and memory stays bounded by the number of distinct ids (12 bytes each,
 * see id-set.ts) plus one small cell per (window, currency) — never by the data volume.
 *
 * Aggregates are merged with the domain's own rules (parseAggregate, combineTotals,
 * renderAggregate: exact minor units, each aggregate id counted once, a known id with different
 * figures surfaced as a conflict, never summed). The merged id is the XOR of the distinct source
 * ids, like mergeAggregates' (for ids that are not our 128-bit hex, their MD5 is XORed instead of
 * the domain's sorted-list hash, so the merge stays streaming).
 */
import { createHash } from 'node:crypto';
import { type Aggregate, combineTotals, renderAggregate, type Totals } from '../../domain/aggregate.js';
import { currencyExponent } from '../../domain/currency.js';
import { type RejectReason, validateValue } from '../../domain/event.js';
import { MAX_TOTAL_MINOR, toMinor } from '../../domain/money.js';
import { isoMs, windowStartMs } from '../../domain/window.js';
import { fnv1a, hash64, IdSet, isHexId } from './id-set.js';

export interface CurrencyStats {
  count: number;
  totalMinor: number;
  minMinor: number;
  maxMinor: number;
}

interface Cell {
  startMs: number;
  endMs: number;
  currency: string;
  totals: Totals;
  xor: Uint32Array;
}

export interface IdConflict {
  id: string;
  window_start: string;
  currency: string;
}

/** Most conflicts/overflows listed individually; the counts are always complete. */
const MAX_LISTED = 50;

/** XORs a 128-bit id (or the MD5 of a foreign one) into `acc`. */
function xorId(acc: Uint32Array, id: string): void {
  const hex = isHexId(id) ? id : createHash('md5').update(id).digest('hex');
  for (let i = 0; i < 4; i++)
    acc[i] = ((acc[i] as number) ^ Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16)) >>> 0;
}

/** 32-bit digest of everything that must be equal for a re-delivery (arithmetic, no strings). */
function figuresFingerprint(p: Extract<LeanAggregate, { ok: true }>): number {
  const t = p.totals;
  let h = fnv1a(p.currency);
  for (const n of [p.windowStartMs, p.windowEndMs, t.count, t.totalMinor, t.minMinor, t.maxMinor]) {
    // Both 32-bit halves of each (safe-integer) number.
    h = Math.imul(h ^ (n >>> 0), 0x01000193);
    h = Math.imul(h ^ Math.floor(n / 4294967296), 0x01000193);
  }
  return h >>> 0;
}

/** A record checked as an aggregate: exact totals and window bounds, no re-rendering. */
export type LeanAggregate =
  | {
      ok: true;
      id: string;
      currency: string;
      window_start: string;
      window_end: string;
      windowStartMs: number;
      windowEndMs: number;
      totals: Totals;
    }
  | { ok: false; detail: string };

const AMOUNT_FIELDS = ['total_amount', 'avg_amount', 'min_amount', 'max_amount'] as const;

/**
 * The same checks as the domain's parseAggregate (test/data/merge.test.ts holds them equal),
 * without building the re-rendered record, and with the window strings' parse cached: an hour has
 * 60 distinct windows but may hold a million aggregates, and Date parsing was most of the cost.
 */
export class LeanAggregateParser {
  private readonly windows = new Map<string, { startMs: number; endMs: number } | null>();

  private window(start: unknown, end: unknown): { startMs: number; endMs: number } | null {
    if (typeof start !== 'string' || typeof end !== 'string') return null;
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

  parse(v: unknown): LeanAggregate {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      return { ok: false, detail: 'not a JSON object' };
    const o = v as Record<string, unknown>;
    const { id, window_start, window_end, currency, transaction_count } = o;
    if (typeof id !== 'string' || id === '') return { ok: false, detail: 'id is missing or not a string' };
    const w = this.window(window_start, window_end);
    if (w === null) {
      return {
        ok: false,
        detail: `aggregate ${id}: window_start/window_end are not ISO instants with start < end`,
      };
    }
    if (typeof currency !== 'string')
      return { ok: false, detail: `aggregate ${id}: currency is not a string` };
    const exp = currencyExponent(currency);
    if (exp === undefined) return { ok: false, detail: `aggregate ${id}: unknown currency ${currency}` };
    if (
      typeof transaction_count !== 'number' ||
      !Number.isSafeInteger(transaction_count) ||
      transaction_count < 1
    ) {
      return { ok: false, detail: `aggregate ${id}: transaction_count is not a positive whole number` };
    }
    const minor = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      const f = AMOUNT_FIELDS[i] as (typeof AMOUNT_FIELDS)[number];
      const a = o[f];
      const r = typeof a === 'number' ? toMinor(a, exp, MAX_TOTAL_MINOR) : undefined;
      if (r === undefined || !r.ok)
        return { ok: false, detail: `aggregate ${id}: ${f} is not a valid ${currency} amount` };
      minor[i] = r.minor;
    }
    const [totalMinor, , minMinor, maxMinor] = minor as [number, number, number, number];
    if (minMinor > maxMinor) return { ok: false, detail: `aggregate ${id}: min_amount > max_amount` };
    return {
      ok: true,
      id,
      currency,
      window_start: window_start as string,
      window_end: window_end as string,
      windowStartMs: w.startMs,
      windowEndMs: w.endMs,
      totals: { count: transaction_count, totalMinor, minMinor, maxMinor },
    };
  }
}

export class AggregateAccumulator {
  /** Records decoded (all of them, whatever became of them). */
  records = 0;
  /** Records whose id was already counted with the same figures (re-deliveries). */
  duplicates = 0;
  /** Valid aggregates of windows outside the range (the extra hour read for late arrivals). */
  outOfRange = 0;
  /** Records that are not aggregates. */
  invalid = 0;
  conflictCount = 0;
  overflowCount = 0;
  readonly conflicts: IdConflict[] = [];
  readonly overflows: IdConflict[] = [];
  /** First few reasons records were invalid, for the report. */
  readonly invalidSamples: string[] = [];
  private readonly ids = new IdSet(4096);
  private readonly cells = new Map<string, Cell>();
  private readonly parser = new LeanAggregateParser();

  constructor(private readonly range: { fromMs: number; toMs: number }) {}

  /** Adds one decoded record; returns false when it is not a valid aggregate. */
  add(rec: unknown): boolean {
    this.records++;
    const p = this.parser.parse(rec);
    if (!p.ok) {
      this.invalid++;
      if (this.invalidSamples.length < 5) this.invalidSamples.push(p.detail);
      return false;
    }
    // A window belongs to the range when it overlaps it.
    if (p.windowEndMs <= this.range.fromMs || p.windowStartMs >= this.range.toMs) {
      this.outOfRange++;
      return true;
    }
    const a = p;
    const t = p.totals;
    // The whole id, hashed: ids need not be random in their first bytes (counters, foreign writers).
    const [hi, lo] = hash64(a.id);
    const fp = figuresFingerprint(p);
    const seen = this.ids.add(hi, lo, fp);
    if (seen === 'duplicate') {
      this.duplicates++;
      return true;
    }
    if (seen === 'conflict') {
      this.conflictCount++;
      if (this.conflicts.length < MAX_LISTED)
        this.conflicts.push({ id: a.id, window_start: a.window_start, currency: a.currency });
      return true;
    }
    const key = `${p.windowStartMs}|${p.windowEndMs}|${a.currency}`;
    const cell = this.cells.get(key);
    if (cell === undefined) {
      this.cells.set(key, {
        startMs: p.windowStartMs,
        endMs: p.windowEndMs,
        currency: a.currency,
        totals: { ...t },
        xor: (() => {
          const x = new Uint32Array(4);
          xorId(x, a.id);
          return x;
        })(),
      });
      return true;
    }
    const merged = combineTotals(cell.totals, t);
    if (merged === undefined) {
      this.overflowCount++;
      if (this.overflows.length < MAX_LISTED)
        this.overflows.push({ id: a.id, window_start: a.window_start, currency: a.currency });
      return true;
    }
    cell.totals = merged;
    xorId(cell.xor, a.id);
    return true;
  }

  /** Merged aggregates, by window start then currency. */
  aggregates(): Aggregate[] {
    return [...this.cells.values()]
      .sort(
        (a, b) =>
          a.startMs - b.startMs ||
          a.endMs - b.endMs ||
          (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
      )
      .map((c) =>
        renderAggregate(
          [...c.xor].map((x) => x.toString(16).padStart(8, '0')).join(''),
          c.startMs,
          c.endMs - c.startMs,
          c.currency,
          c.totals,
        ),
      );
  }

  /** Per-currency figures over all merged windows (exact). */
  byCurrency(): Map<string, CurrencyStats> {
    const out = new Map<string, CurrencyStats>();
    for (const c of this.cells.values()) addStats(out, c.currency, c.totals);
    return out;
  }

  /** Transactions per window start (all currencies). */
  perWindow(): Map<number, number> {
    const out = new Map<number, number>();
    for (const c of this.cells.values()) out.set(c.startMs, (out.get(c.startMs) ?? 0) + c.totals.count);
    return out;
  }
}

function addStats(out: Map<string, CurrencyStats>, currency: string, t: Totals): void {
  const s = out.get(currency);
  if (s === undefined) out.set(currency, { ...t });
  else {
    s.count += t.count;
    s.totalMinor += t.totalMinor;
    if (t.minMinor < s.minMinor) s.minMinor = t.minMinor;
    if (t.maxMinor > s.maxMinor) s.maxMinor = t.maxMinor;
  }
}

/**
 * `results --raw`: raw events validated like the aggregator does, summed per currency and per
 * window of event time. Every valid record counts (as the aggregator counts them); repeated
 * transaction ids are reported as `duplicateIds`.
 */
export class RawAccumulator {
  records = 0;
  events = 0;
  outOfRange = 0;
  invalid = 0;
  duplicateIds = 0;
  readonly invalidByReason = new Map<RejectReason, number>();
  private readonly ids = new IdSet(4096);
  private readonly currencies = new Map<string, CurrencyStats>();
  private readonly windows = new Map<number, number>();

  constructor(
    private readonly o: {
      fromMs: number;
      toMs: number;
      windowMs: number;
      nowMs: number;
      maxFutureSkewMs: number;
    },
  ) {}

  add(rec: unknown): boolean {
    this.records++;
    const v = validateValue(rec, { arrivalMs: this.o.nowMs, maxFutureSkewMs: this.o.maxFutureSkewMs });
    if (!v.ok) {
      this.invalid++;
      this.invalidByReason.set(v.reason, (this.invalidByReason.get(v.reason) ?? 0) + 1);
      return false;
    }
    const e = v.event;
    if (e.event_timestamp < this.o.fromMs || e.event_timestamp >= this.o.toMs) {
      this.outOfRange++;
      return true;
    }
    this.events++;
    const [hi, lo] = hash64(e.transaction_id);
    if (this.ids.add(hi, lo, 0) !== 'new') this.duplicateIds++;
    const m = e.amountMinor;
    addStats(this.currencies, e.currency, { count: 1, totalMinor: m, minMinor: m, maxMinor: m });
    const w = windowStartMs(e.event_timestamp, this.o.windowMs);
    this.windows.set(w, (this.windows.get(w) ?? 0) + 1);
    return true;
  }

  byCurrency(): Map<string, CurrencyStats> {
    return this.currencies;
  }

  perWindow(): Map<number, number> {
    return this.windows;
  }
}
