/**
 * `results --raw`: raw events validated as the aggregator validates them, summed per currency and
 * per window of event time, streaming (memory: 12 bytes per distinct transaction id, see
 * src/domain/id-set.ts). Aggregation records are merged by the domain's one merge rule
 * (src/domain/exact-merge.ts), not here.
 */
import type { Totals } from '../../domain/aggregate.js';
import { type RejectReason, validateValue } from '../../domain/event.js';
import { hash64, IdSet } from '../../domain/id-set.js';
import { windowStartMs } from '../../domain/window.js';

export type CurrencyStats = Totals;

/** Adds a cell's (or an event's) figures to its currency's. */
export function addStats(out: Map<string, CurrencyStats>, currency: string, t: Totals): void {
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
