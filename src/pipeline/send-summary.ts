/**
 * The `send` summary: printed by `paypipe send --json`, consumed by `paypipe results --verify`.
 * Totals are exact: counted per currency in integer minor units and written as fixed-decimal
 * strings ("1234.50"), so a JSON round trip can never blur a cent.
 *
 * What the totals count: every VALID event that was accepted by the stream (duplicates included —
 * the aggregator counts each record it receives), i.e. exactly what the merged aggregates of the
 * covered windows must add up to when this send was the only traffic.
 */
import { currencyExponent } from '../domain/currency.js';
import { formatMinor } from '../domain/money.js';
import { PaypipeError } from '../errors.js';

export const SUMMARY_KIND = 'paypipe.send-summary';

export interface CurrencyTotals {
  count: number;
  /** Exact, with the currency's decimals: "1234.50" (USD), "1234" (JPY). */
  total: string;
}

export interface SendSummaryDoc {
  kind: typeof SUMMARY_KIND;
  version: 1;
  target: 'aws' | 'local';
  stream: string;
  region: string;
  source:
    | { type: 'generated'; seed: number; scenario: string | null; spanMs: number }
    | { type: 'file'; path: string }
    | { type: 'lambda'; function: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Events asked for (--count), or null for --duration / --from-file. */
  requested: number | null;
  /** Records accepted by the stream. */
  sent: number;
  /** Records still unsent after retries (written to unsentFile). */
  failed: number;
  /** Entry resends (partial PutRecords failures, throttles). */
  retried: number;
  /** Entries the stream rejected as throttled (each attempt counted). */
  throttled: number;
  requests: number;
  /** sent / duration, events per second. */
  throughput: number;
  /** --rate, or the shard limit the run was paced to; null when unpaced. */
  pacedRate: number | null;
  /** Sent records that are not valid events (scenario `malformed`, bad lines of a file). */
  invalid: number;
  /** Event-time range of the valid events sent (null when none). */
  eventTime: { from: string; to: string } | null;
  byCurrency: Record<string, CurrencyTotals>;
  /**
   * The same valid events per (window, currency), window order: what `results --verify` compares
   * window by window, so traffic in other windows is left out and a window still in the Firehose
   * buffer is told apart from one that is wrong. Absent in summaries of older versions and of
   * `--via-lambda` (the producer reports per-currency totals only).
   */
  byWindow?: WindowTotals[];
  /** Window width the byWindow entries use. */
  windowSeconds?: number;
  unsentFile: string | null;
}

export interface WindowTotals extends CurrencyTotals {
  /** ISO, e.g. 2024-01-15T10:30:00.000Z. */
  window_start: string;
  currency: string;
}

/** Exact per-currency (or per-window) figures in minor units. */
export interface MinorTotals {
  count: number;
  totalMinor: number;
}

const exact = (minor: number, currency: string): string =>
  formatMinor(minor, currencyExponent(currency) ?? 2);

/** Per-currency minor-unit totals → the summary's string form, currencies sorted. */
export function renderTotals(minor: ReadonlyMap<string, MinorTotals>): Record<string, CurrencyTotals> {
  const out: Record<string, CurrencyTotals> = {};
  for (const c of [...minor.keys()].sort()) {
    const t = minor.get(c) as MinorTotals;
    out[c] = { count: t.count, total: exact(t.totalMinor, c) };
  }
  return out;
}

/** Per-(window, currency) minor-unit tallies → the summary's string form. */
export function renderWindowTotals(
  tallies: ReadonlyArray<{ windowStartMs: number; currency: string } & MinorTotals>,
): WindowTotals[] {
  return tallies.map((t) => ({
    window_start: new Date(t.windowStartMs).toISOString(),
    currency: t.currency,
    count: t.count,
    total: exact(t.totalMinor, t.currency),
  }));
}

/** Key of a (window, currency) cell: the window start in ms and the currency. */
export const cellKey = (windowStartMs: number, currency: string): string => `${windowStartMs}|${currency}`;

/** "1234.50" → 123450 for USD; undefined when the text is not an exact amount in that currency. */
export function parseExactTotal(text: string, currency: string): number | undefined {
  const exp = currencyExponent(currency);
  if (exp === undefined) return undefined;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (m === null) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > exp) return undefined;
  const n = Number((m[1] as string) + frac.padEnd(exp, '0'));
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Validates a parsed file as a send summary and returns its per-currency minor-unit totals.
 * Throws a one-line usage error naming the file and the first thing wrong.
 */
export function readSummaryTotals(
  doc: unknown,
  file: string,
): {
  summary: SendSummaryDoc;
  totals: Map<string, MinorTotals>;
  /** By cellKey(window start, currency); undefined when the summary has no byWindow. */
  windows: Map<string, MinorTotals> | undefined;
} {
  const fail = (what: string): PaypipeError =>
    new PaypipeError('USAGE', `--verify ${file}: ${what}`, {
      hint: 'give it the output of `paypipe send --json > summary.json`',
    });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw fail('is not a JSON object');
  const d = doc as Partial<SendSummaryDoc>;
  if (d.kind !== SUMMARY_KIND)
    throw fail(`is not a send summary (kind is ${JSON.stringify(d.kind ?? null)})`);
  if (typeof d.byCurrency !== 'object' || d.byCurrency === null) throw fail('has no byCurrency totals');
  const totals = new Map<string, MinorTotals>();
  for (const [currency, t] of Object.entries(d.byCurrency)) {
    if (
      typeof t !== 'object' ||
      t === null ||
      !Number.isSafeInteger(t.count) ||
      t.count < 0 ||
      typeof t.total !== 'string'
    ) {
      throw fail(`byCurrency.${currency} must be {count, total}`);
    }
    const minor = parseExactTotal(t.total, currency);
    if (minor === undefined)
      throw fail(`byCurrency.${currency}.total "${t.total}" is not an exact ${currency} amount`);
    totals.set(currency, { count: t.count, totalMinor: minor });
  }
  if (d.eventTime !== null && d.eventTime !== undefined) {
    if (Number.isNaN(Date.parse(d.eventTime.from)) || Number.isNaN(Date.parse(d.eventTime.to))) {
      throw fail('eventTime.from/to are not ISO times');
    }
  }
  if (d.finishedAt !== undefined && Number.isNaN(Date.parse(d.finishedAt))) {
    throw fail('finishedAt is not an ISO time');
  }
  let windows: Map<string, MinorTotals> | undefined;
  if (d.byWindow !== undefined) {
    if (!Array.isArray(d.byWindow)) throw fail('byWindow must be a list');
    windows = new Map();
    for (const [i, w] of d.byWindow.entries()) {
      const start = typeof w?.window_start === 'string' ? Date.parse(w.window_start) : Number.NaN;
      const minor =
        typeof w?.total === 'string' && typeof w.currency === 'string'
          ? parseExactTotal(w.total, w.currency)
          : undefined;
      if (Number.isNaN(start) || minor === undefined || !Number.isSafeInteger(w.count) || w.count < 0) {
        throw fail(`byWindow[${i}] must be {window_start, currency, count, total}`);
      }
      windows.set(cellKey(start, w.currency), { count: w.count, totalMinor: minor });
    }
  }
  return { summary: d as SendSummaryDoc, totals, windows };
}
