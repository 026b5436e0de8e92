/**
 * `results --verify SUMMARY.json`: do the aggregates in S3 add up to what `paypipe send --json` sent?
 *
 * With a summary that has per-window totals (every `send` since this version), the comparison is
 * window by window over the summary's windows only: traffic in other minutes is left out, a window
 * that is short while its aggregates may still be in the Firehose buffer is "pending" (run again,
 * or --wait), and only what cannot be explained by time is a mismatch. Older summaries (and
 * `--via-lambda`) carry per-currency totals only; those are compared over the whole range as before.
 */
import type { Aggregate } from '../../domain/aggregate.js';
import { currencyExponent } from '../../domain/currency.js';
import { formatMinor, toMinor } from '../../domain/money.js';
import { cellKey, type MinorTotals } from '../../pipeline/send-summary.js';
import type { TimeRange } from '../../pipeline/time-range.js';
import type { Style } from '../io.js';
import {
  type CurrencyCheck,
  checkTotals,
  formatCount,
  groupExact,
  plural,
  renderTotalsCheck,
} from '../render/aggregates.js';

export type VerifyStatus = 'match' | 'pending' | 'mismatch';

export interface WindowCheck {
  window_start: string;
  currency: string;
  expectedCount: number;
  actualCount: number;
  /** Exact, with the currency's decimals ("1234.50"). */
  expectedTotal: string;
  actualTotal: string;
}

export interface VerifyDoc {
  file: string;
  status: VerifyStatus;
  ok: boolean;
  /** Per currency, over the compared windows (or the whole range for a summary without windows). */
  checks: CurrencyCheck[];
  /** Window-by-window comparison (summaries with byWindow). */
  windows?: {
    /** Distinct windows of the summary compared (each has one cell per currency). */
    compared: number;
    /** Fewer payments than sent (still in flight, or lost). */
    short: WindowCheck[];
    /** More payments than sent: other traffic in that minute (another send, the producer), or counted twice. */
    over: WindowCheck[];
    /** The count matches but the total does not. */
    differ: WindowCheck[];
    /** Windows of the summary outside the range read (not compared). */
    outsideRange: number;
  };
  /** Set when short windows may still be on their way: until when, and the buffer interval. */
  pending?: { windows: number; until: string; bufferSeconds: number };
}

export interface VerifyInput {
  file: string;
  totals: ReadonlyMap<string, MinorTotals>;
  windows: ReadonlyMap<string, MinorTotals> | undefined;
  /** When the send finished (ms); aggregates may arrive until finishedMs + inFlightMs. */
  finishedMs: number | undefined;
}

export interface VerifyContext {
  nowMs: number;
  range: TimeRange;
  /** Firehose buffer interval of the target. */
  bufferSeconds: number;
  /** How long after a send its aggregates may still be on their way (buffer + aggregator). */
  inFlightMs: number;
}

const exact = (minor: number, currency: string): string =>
  formatMinor(minor, currencyExponent(currency) ?? 2);

/** Merged aggregates → exact minor-unit figures per cellKey(window, currency). */
function cellsOf(aggregates: readonly Aggregate[]): Map<string, MinorTotals> {
  const out = new Map<string, MinorTotals>();
  for (const a of aggregates) {
    const key = cellKey(Date.parse(a.window_start), a.currency);
    const m = toMinor(a.total_amount, currencyExponent(a.currency) ?? 2, Number.MAX_SAFE_INTEGER);
    const t = out.get(key) ?? { count: 0, totalMinor: 0 };
    t.count += a.transaction_count;
    t.totalMinor += m.ok ? m.minor : Number.NaN;
    out.set(key, t);
  }
  return out;
}

/**
 * The verdict. `actualTotals` is what the range holds per currency (used only for summaries without
 * windows); `aggregates` are the merged (window, currency) aggregates of the range.
 */
export function verify(
  input: VerifyInput,
  aggregates: readonly Aggregate[],
  actualTotals: ReadonlyMap<string, MinorTotals>,
  ctx: VerifyContext,
): VerifyDoc {
  const inFlight = input.finishedMs !== undefined && ctx.nowMs < input.finishedMs + ctx.inFlightMs;
  const pendingOf = (n: number): VerifyDoc['pending'] =>
    input.finishedMs === undefined
      ? undefined
      : {
          windows: n,
          until: new Date(input.finishedMs + ctx.inFlightMs).toISOString(),
          bufferSeconds: ctx.bufferSeconds,
        };
  if (input.windows === undefined) {
    const checks = checkTotals(input.totals, actualTotals);
    const ok = checks.every((c) => c.ok);
    // Without windows only "every currency is at most what was sent" can be told apart from a mismatch.
    const allShort = checks.every((c) => {
      const e = input.totals.get(c.currency) ?? { count: 0, totalMinor: 0 };
      const a = actualTotals.get(c.currency) ?? { count: 0, totalMinor: 0 };
      return c.ok || (a.count < e.count && a.totalMinor <= e.totalMinor);
    });
    const status: VerifyStatus = ok ? 'match' : inFlight && allShort ? 'pending' : 'mismatch';
    const shortCurrencies = checks.filter((c) => !c.ok).length;
    return {
      file: input.file,
      status,
      ok,
      checks,
      ...(status === 'pending' ? { pending: pendingOf(shortCurrencies) } : {}),
    };
  }
  const actual = cellsOf(aggregates);
  const short: WindowCheck[] = [];
  const over: WindowCheck[] = [];
  const differ: WindowCheck[] = [];
  const expectedByCurrency = new Map<string, MinorTotals>();
  const actualByCurrency = new Map<string, MinorTotals>();
  const compared = new Set<number>();
  const outside = new Set<number>();
  for (const [key, e] of [...input.windows].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [startText, currency = ''] = key.split('|');
    const start = Number(startText);
    if (start < ctx.range.fromMs || start >= ctx.range.toMs) {
      outside.add(start);
      continue;
    }
    compared.add(start);
    const a = actual.get(key) ?? { count: 0, totalMinor: 0 };
    for (const [m, v] of [
      [expectedByCurrency, e],
      [actualByCurrency, a],
    ] as const) {
      const t = m.get(currency) ?? { count: 0, totalMinor: 0 };
      t.count += v.count;
      t.totalMinor += v.totalMinor;
      m.set(currency, t);
    }
    if (a.count === e.count && a.totalMinor === e.totalMinor) continue;
    const row: WindowCheck = {
      window_start: new Date(start).toISOString(),
      currency,
      expectedCount: e.count,
      actualCount: a.count,
      expectedTotal: exact(e.totalMinor, currency),
      actualTotal: exact(a.totalMinor, currency),
    };
    if (a.count < e.count) short.push(row);
    else if (a.count > e.count) over.push(row);
    else differ.push(row);
  }
  const checks = checkTotals(expectedByCurrency, actualByCurrency);
  const ok = compared.size > 0 && short.length === 0 && over.length === 0 && differ.length === 0;
  // Only missing payments can be explained by time; a window with more, or other amounts, cannot.
  const status: VerifyStatus = ok
    ? 'match'
    : inFlight && short.length > 0 && over.length === 0 && differ.length === 0
      ? 'pending'
      : 'mismatch';
  return {
    file: input.file,
    status,
    ok,
    checks,
    windows: { compared: compared.size, short, over, differ, outsideRange: outside.size },
    ...(status === 'pending' ? { pending: pendingOf(new Set(short.map((w) => w.window_start)).size) } : {}),
  };
}

const minute = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;

/** One line for the error (or the pending note) after the rendering. */
export function verifyHeadline(v: VerifyDoc): string {
  if (v.status === 'match') return `aggregates match ${v.file}`;
  if (v.status === 'pending' && v.pending !== undefined) {
    return `${plural(v.pending.windows, 'window')} may still be in the Firehose buffer (up to ${v.pending.bufferSeconds} s, until ${v.pending.until.slice(11, 19)} UTC)`;
  }
  const w = v.windows;
  if (w !== undefined) {
    if (w.compared === 0) return `no window of ${v.file} is in the range read`;
    const parts = [
      w.short.length > 0 ? `${plural(w.short.length, 'window')} short` : '',
      w.over.length > 0 ? `${plural(w.over.length, 'window')} with more payments than sent` : '',
      w.differ.length > 0 ? `${plural(w.differ.length, 'window')} with other amounts` : '',
    ].filter((p) => p !== '');
    return `aggregates differ from ${v.file}: ${parts.join(', ')}`;
  }
  const bad = v.checks.filter((c) => !c.ok).map((c) => c.currency);
  return `aggregates differ from ${v.file} for ${bad.join(', ')}`;
}

/** What to do about a verdict that is not a match. */
export function verifyHint(v: VerifyDoc): string {
  if (v.status === 'pending') {
    const soon = (v.pending?.bufferSeconds ?? 60) >= 20 ? 'in a minute' : 'in a few seconds';
    return `run it again ${soon}, or add --wait 2m to wait for them`;
  }
  if (v.windows !== undefined && v.windows.compared === 0) {
    return 'leave out --since/--until/--date: --verify then reads the windows the summary covers';
  }
  if (v.windows !== undefined && v.windows.over.length > 0) {
    return 'more than was sent means other traffic in those minutes (the producer schedule: `paypipe schedule --disable`, or another send); verify is exact only for a send that had its windows to itself';
  }
  return 'the ✗ lines above show where: lost or late data (`paypipe dead-letters`, `paypipe doctor`)';
}

export function renderVerify(v: VerifyDoc, style: Style): string {
  const verdict =
    v.status === 'match'
      ? style.green('match')
      : v.status === 'pending'
        ? style.yellow('not yet (aggregates may still be in flight)')
        : style.red('MISMATCH');
  const out = [style.bold(`verify against ${v.file}: ${verdict}`)];
  if (v.windows !== undefined) {
    const w = v.windows;
    out.push(
      style.dim(
        `${plural(w.compared, 'window')} of the summary compared` +
          (w.outsideRange > 0 ? `, ${w.outsideRange} outside the range read` : ''),
      ),
    );
  }
  out.push(
    v.checks.length === 0
      ? style.dim('(nothing sent, nothing aggregated)')
      : renderTotalsCheck(v.checks, style),
  );
  const rows = (list: readonly WindowCheck[], mark: string, what: string): void => {
    for (const r of list.slice(0, 10)) {
      out.push(
        `  ${mark} ${minute(r.window_start)} ${r.currency}  sent ${plural(r.expectedCount, 'payment')} / ${groupExact(r.expectedTotal)}, aggregates say ${formatCount(r.actualCount)} / ${groupExact(r.actualTotal)}${what}`,
      );
    }
    if (list.length > 10) out.push(style.dim(`  … ${list.length - 10} more`));
  };
  // One window: the currency lines above already say it all.
  if (v.windows !== undefined && v.windows.compared > 1) {
    rows(v.windows.short, v.status === 'pending' ? style.yellow('…') : style.red('✗'), '');
    rows(v.windows.over, style.red('✗'), ' (more than sent)');
    rows(v.windows.differ, style.red('✗'), ' (other amounts)');
  }
  if (v.status === 'pending' && v.pending !== undefined) out.push(style.yellow(verifyHeadline(v)));
  return out.join('\n');
}
