/**
 * Human renderings of merged aggregates, shared by `demo` and `results`: the per-window,
 * per-currency table, a per-minute bar chart, and the ✓/✗ check of totals against what was sent.
 * Amounts are formatted from exact minor units with the currency's decimals (never float maths).
 */
import { currencyExponent } from '../../domain/currency.js';
import { formatMinor, toMinor } from '../../domain/money.js';
import type { Style } from '../io.js';

/** The fields of an aggregate these renderers use (Aggregate from src/domain/aggregate.ts fits). */
export interface AggregateRow {
  window_start: string;
  window_end?: string;
  currency: string;
  transaction_count: number;
  total_amount: number;
  avg_amount: number;
  min_amount: number;
  max_amount: number;
}

const group = (digits: string): string => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** `1234567.5` USD → `1,234,567.50`; JPY → `1,234,568`. Exact for valid amounts. */
export function formatAmount(amount: number, currency: string): string {
  const exp = currencyExponent(currency) ?? 2;
  const m = toMinor(amount, exp, Number.MAX_SAFE_INTEGER);
  const text = m.ok ? formatMinor(m.minor, exp) : amount.toFixed(exp);
  const [int, frac] = text.split('.') as [string, string | undefined];
  return frac === undefined ? group(int) : `${group(int)}.${frac}`;
}

/** Minor units → grouped fixed decimals. */
export function formatMinorAmount(minor: number, currency: string): string {
  const exp = currencyExponent(currency) ?? 2;
  const [int, frac] = formatMinor(minor, exp).split('.') as [string, string | undefined];
  return frac === undefined ? group(int) : `${group(int)}.${frac}`;
}

/**
 * `1,234,567`: whole numbers grouped by hand (ICU's first NumberFormat costs ~30 ms of a command's
 * start, and results formats a count per object read); anything else through Intl, made once.
 */
let counts: Intl.NumberFormat | undefined;
export const formatCount = (n: number): string => {
  if (!Number.isSafeInteger(n) || Object.is(n, -0)) {
    counts ??= new Intl.NumberFormat('en-US');
    return counts.format(n);
  }
  const digits = String(n < 0 ? -n : n);
  let out = digits.length > 3 ? '' : digits;
  if (digits.length > 3) {
    const head = digits.length % 3 || 3;
    out = digits.slice(0, head);
    for (let i = head; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  }
  return n < 0 ? `-${out}` : out;
};

/** `1 object`, `2 objects`, `1,000 records`: a count with its noun in agreement. */
export const plural = (n: number, singular: string, pluralForm = `${singular}s`): string =>
  `${formatCount(n)} ${n === 1 ? singular : pluralForm}`;

/** `2024-01-15T10:30:00.000Z` → `2024-01-15 10:30` (UTC, like the windows themselves). */
export const formatWindow = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;

const visible = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length;
const padStart = (s: string, w: number): string => ' '.repeat(Math.max(0, w - visible(s))) + s;
const padEnd = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - visible(s)));

/** Right-aligned numeric columns, left-aligned text columns, one header row, a rule under it. */
export function renderColumns(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('l' | 'r')[],
  style: Style,
): string {
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'r' ? padStart(c, widths[i] as number) : padEnd(c, widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [
    style.bold(line(header)),
    style.dim(widths.map((w) => '─'.repeat(w)).join('  ')),
    ...rows.map(line),
  ].join('\n');
}

/** One row per (window, currency), windows in time order; a window's label only on its first row. */
export function renderAggregateTable(rows: readonly AggregateRow[], style: Style): string {
  if (rows.length === 0) return style.dim('(no aggregates)');
  const sorted = [...rows].sort((a, b) =>
    a.window_start < b.window_start
      ? -1
      : a.window_start > b.window_start
        ? 1
        : a.currency < b.currency
          ? -1
          : 1,
  );
  let prev = '';
  const body = sorted.map((r) => {
    const w = r.window_start === prev ? '' : formatWindow(r.window_start);
    prev = r.window_start;
    return [
      w,
      r.currency,
      formatCount(r.transaction_count),
      formatAmount(r.total_amount, r.currency),
      formatAmount(r.avg_amount, r.currency),
      formatAmount(r.min_amount, r.currency),
      formatAmount(r.max_amount, r.currency),
    ];
  });
  return renderColumns(
    ['window (UTC)', 'currency', 'count', 'total', 'avg', 'min', 'max'],
    body,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
    style,
  );
}

export interface MinuteBar {
  window_start: string;
  count: number;
}

/** Transactions per window (all currencies), oldest first. */
export function countsPerWindow(rows: readonly AggregateRow[]): MinuteBar[] {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.window_start, (by.get(r.window_start) ?? 0) + r.transaction_count);
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([window_start, count]) => ({ window_start, count }));
}

/** A horizontal bar per window: `10:31 ████████████ 412`. */
export function renderWindowChart(rows: readonly AggregateRow[], style: Style, width = 40): string {
  const bars = countsPerWindow(rows);
  if (bars.length === 0) return '';
  const max = Math.max(...bars.map((b) => b.count));
  const label = (iso: string): string => iso.slice(11, 16);
  const cw = Math.max(...bars.map((b) => formatCount(b.count).length));
  return bars
    .map((b) => {
      const n = max === 0 ? 0 : Math.max(b.count > 0 ? 1 : 0, Math.round((b.count / max) * width));
      return `${label(b.window_start)} ${style.cyan('█'.repeat(n))}${' '.repeat(width - n)} ${padStart(formatCount(b.count), cw)}`;
    })
    .join('\n');
}

export interface CurrencyTotal {
  count: number;
  totalMinor: number;
}

/** Per-currency count and exact minor-unit total over all windows. */
export function totalsByCurrency(rows: readonly AggregateRow[]): Map<string, CurrencyTotal> {
  const out = new Map<string, CurrencyTotal>();
  for (const r of rows) {
    const exp = currencyExponent(r.currency) ?? 2;
    const m = toMinor(r.total_amount, exp, Number.MAX_SAFE_INTEGER);
    const t = out.get(r.currency) ?? { count: 0, totalMinor: 0 };
    t.count += r.transaction_count;
    t.totalMinor += m.ok ? m.minor : Number.NaN;
    out.set(r.currency, t);
  }
  return out;
}

export interface CurrencyCheck {
  currency: string;
  expectedCount: number;
  actualCount: number;
  /** Exact, with the currency's decimals and no grouping: "31753.58", like `send --json`. */
  expectedTotal: string;
  actualTotal: string;
  ok: boolean;
}

/** Compares what was sent with what the aggregates say, currency by currency (both ways). */
export function checkTotals(
  expected: ReadonlyMap<string, CurrencyTotal>,
  actual: ReadonlyMap<string, CurrencyTotal>,
): CurrencyCheck[] {
  const currencies = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  return currencies.map((currency) => {
    const e = expected.get(currency) ?? { count: 0, totalMinor: 0 };
    const a = actual.get(currency) ?? { count: 0, totalMinor: 0 };
    return {
      currency,
      expectedCount: e.count,
      actualCount: a.count,
      expectedTotal: formatMinor(e.totalMinor, currencyExponent(currency) ?? 2),
      actualTotal: formatMinor(a.totalMinor, currencyExponent(currency) ?? 2),
      ok: e.count === a.count && e.totalMinor === a.totalMinor,
    };
  });
}

/** An exact amount ("20497.15") grouped for reading ("20,497.15"). */
export const groupExact = (exact: string): string => {
  const [int, frac] = exact.split('.') as [string, string | undefined];
  return frac === undefined ? group(int) : `${group(int)}.${frac}`;
};

/** `✓ USD  1,204 payments  52,301.22` or `✗ EUR  sent 10 payments / 1.00, aggregates say 9 / 0.90`. */
export function renderTotalsCheck(checks: readonly CurrencyCheck[], style: Style): string {
  const payments = (n: number): string => plural(n, 'payment');
  const cw = Math.max(...checks.map((c) => payments(c.actualCount).length), 1);
  const tw = Math.max(...checks.map((c) => groupExact(c.actualTotal).length), 1);
  return checks
    .map((c) =>
      c.ok
        ? `${style.green('✓')} ${c.currency}  ${padStart(payments(c.actualCount), cw)}  ${padStart(groupExact(c.actualTotal), tw)}  matches what was sent`
        : `${style.red('✗')} ${c.currency}  sent ${payments(c.expectedCount)} / ${groupExact(c.expectedTotal)}, aggregates say ${formatCount(c.actualCount)} / ${groupExact(c.actualTotal)}`,
    )
    .join('\n');
}
