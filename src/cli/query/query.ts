/**
 * `paypipe query`: one SQL statement (canned, or --sql) on the target's engine, printed as a
 * table, JSON or CSV through the io layer.
 */
import { currencyExponent } from '../../domain/currency.js';
import { usageError } from '../../errors.js';
import {
  duplicatesSql,
  mergedAggregatesSql,
  totalsPerCurrencySql,
  undecidedWindowsSql,
} from '../../pipeline/query-sql.js';
import { implicitWhen, resolveRange } from '../../pipeline/time-range.js';
import type { Io, Style } from '../io.js';
import { renderColumns } from '../render/aggregates.js';
import { openSqlBackend } from '../sql-backend.js';
import type { QueryFlags } from './flags.js';

const HOUR_MS = 3_600_000;

export interface QueryDoc {
  kind: 'paypipe.query';
  question: 'totals' | 'windows' | 'undecided' | 'duplicates' | 'sql';
  engine: 'athena' | 'duckdb';
  target: 'aws' | 'local';
  range: { from: string; to: string } | null;
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, string | number | boolean | null>>;
  bytesScanned: number;
  costUsd?: number;
  queryExecutionId?: string;
}

export async function runQuery(flags: QueryFlags, io: Io, nowMs = Date.now()): Promise<QueryDoc> {
  const asked = (['totals', 'windows', 'undecided', 'duplicates'] as const).filter((q) => flags[q] === true);
  if (flags.sql !== undefined) {
    if (asked.length > 0) throw usageError(`--sql and --${asked[0]} conflict; use one of them`);
    if (flags.sql.trim() === '')
      throw usageError('--sql is empty', 'give it a statement, e.g. --sql "SELECT count(*) FROM raw_events"');
    if ((flags.since !== undefined && flags.since.implicit !== true) || flags.until !== undefined)
      throw usageError(
        '--since/--until do not apply to --sql; filter on year/month/day/hour in the SQL',
        `e.g. --sql "SELECT count(*) FROM raw_events WHERE year = '2024' AND month = '01' AND day = '15'"`,
      );
  }
  if (asked.length > 1)
    throw usageError(`--${asked[0]} and --${asked[1]} conflict; ask one question at a time`);
  if (io.json && flags.format !== undefined && flags.format !== 'json') {
    throw usageError(`--json and --format ${flags.format} conflict; use one of them`);
  }
  const question = flags.sql !== undefined ? 'sql' : (asked[0] ?? 'totals');
  const range = resolveRange(
    { since: flags.since ?? implicitWhen('--since', '1h'), until: flags.until },
    nowMs,
    { flags: ['--since', '--until'] },
  );
  const ranged = question !== 'sql';
  if (!ranged && flags.local === true)
    io.info(
      '--sql reads the whole local archive (every arrival hour); filter on year/month/day/hour in the SQL',
    );
  // Arrival hours read: the range plus the next hour (a window's aggregate lands after it closes).
  const backend = await openSqlBackend(
    flags,
    io,
    ranged ? { fromMs: range.fromMs, toMs: range.toMs + HOUR_MS } : undefined,
  );
  try {
    const o = { fromMs: range.fromMs, toMs: range.toMs, windowMs: backend.windowMs };
    const d = backend.dialect;
    const sql =
      question === 'totals'
        ? totalsPerCurrencySql(d, o)
        : question === 'windows'
          ? mergedAggregatesSql(d, o)
          : question === 'undecided'
            ? undecidedWindowsSql(d, o)
            : question === 'duplicates'
              ? duplicatesSql(d, o)
              : (flags.sql as string);
    const r = await backend.run(sql, question === 'sql' ? 'query' : question, {
      userSql: question === 'sql',
    });
    return {
      kind: 'paypipe.query',
      question,
      engine: backend.engine,
      target: backend.target.kind,
      range: ranged
        ? { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString() }
        : null,
      columns: r.columns,
      rows: r.rows,
      bytesScanned: r.bytesScanned,
      ...(r.costUsd === undefined ? {} : { costUsd: r.costUsd }),
      ...(r.queryExecutionId === undefined ? {} : { queryExecutionId: r.queryExecutionId }),
    };
  } finally {
    backend.close();
  }
}

const text = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
const numeric = (type: string): boolean =>
  /^(BIGINT|INTEGER|DECIMAL|HUGEINT|DOUBLE|bigint|integer|decimal|double|tinyint|smallint)/i.test(type);

const csvCell = (v: string): string => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/**
 * An amount column of a row that names its currency, as `results` prints money: the currency's own
 * decimals (JPY 0, USD 2, BHD 3) and grouped digits. Only the text is reshaped, never through a
 * double, and digits past the currency's decimals are kept when they are not zeros (an average).
 */
function moneyText(v: string, currency: unknown): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(v);
  if (m === null || typeof currency !== 'string') return v;
  const exp = currencyExponent(currency) ?? 2;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const shown = frac.length <= exp ? frac.padEnd(exp, '0') : frac;
  const int = (m[2] as string).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${m[1]}${int}${shown === '' ? '' : `.${shown}`}`;
}

const integer = (type: string): boolean =>
  /^(U?BIGINT|U?INTEGER|HUGEINT|U?SMALLINT|U?TINYINT|INT\d*)$/i.test(type);
/** Integer columns that are identifiers or instants, not counts: left as they are. */
const notACount = (column: string): boolean => /(_ms|_id|^year|^month|^day|^hour)$/.test(column);

/**
 * Money in every amount column (`total_amount`, `extra_amount_at_most`, `amount`) of a row with a
 * currency; counts (integer columns) grouped like `results` prints them (1,164).
 */
const cellText = (r: QueryDoc['rows'][number], column: string, type = ''): string => {
  const v = text(r[column]);
  if (column.includes('amount') && 'currency' in r) return moneyText(v, r.currency);
  if (integer(type) && !notACount(column) && /^-?\d+$/.test(v))
    return v.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return v;
};

export function renderQuery(d: QueryDoc, style: Style): string {
  if (d.rows.length === 0) return style.dim('(no rows)');
  return renderColumns(
    d.columns.map((c) => c.name),
    d.rows.map((r) => d.columns.map((c) => cellText(r, c.name, c.type))),
    d.columns.map((c) => (numeric(c.type) ? 'r' : 'l')),
    style,
  );
}

export function printQuery(d: QueryDoc, io: Io, format: QueryFlags['format']): void {
  if (format === 'csv' && !io.json) {
    io.line(null, d.columns.map((c) => csvCell(c.name)).join(','));
    for (const r of d.rows) io.line(r, d.columns.map((c) => csvCell(text(r[c.name]))).join(','));
    return;
  }
  if (format === 'json' && !io.json) {
    io.line(d, JSON.stringify(d, null, 2));
    return;
  }
  io.result(d, renderQuery);
}
