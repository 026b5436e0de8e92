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
  unsentFile: string | null;
}

/** Per-currency minor-unit totals → the summary's string form, currencies sorted. */
export function renderTotals(
  minor: ReadonlyMap<string, { count: number; totalMinor: number }>,
): Record<string, CurrencyTotals> {
  const out: Record<string, CurrencyTotals> = {};
  for (const c of [...minor.keys()].sort()) {
    const t = minor.get(c) as { count: number; totalMinor: number };
    out[c] = { count: t.count, total: formatMinor(t.totalMinor, currencyExponent(c) ?? 2) };
  }
  return out;
}

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
): { summary: SendSummaryDoc; totals: Map<string, { count: number; totalMinor: number }> } {
  const fail = (what: string): PaypipeError =>
    new PaypipeError('USAGE', `--verify ${file}: ${what}`, {
      hint: 'give it the output of `paypipe send --json > summary.json`',
    });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw fail('is not a JSON object');
  const d = doc as Partial<SendSummaryDoc>;
  if (d.kind !== SUMMARY_KIND)
    throw fail(`is not a send summary (kind is ${JSON.stringify(d.kind ?? null)})`);
  if (typeof d.byCurrency !== 'object' || d.byCurrency === null) throw fail('has no byCurrency totals');
  const totals = new Map<string, { count: number; totalMinor: number }>();
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
  return { summary: d as SendSummaryDoc, totals };
}
