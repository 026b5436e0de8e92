/**
 * `paypipe reconcile`: the accounting identity (src/pipeline/query-sql.ts reconcileSql) and the
 * duplicate transaction_ids, on the target's engine, as one report.
 */
import { PaypipeError } from '../../errors.js';
import { duplicatesSql, reconcileSql } from '../../pipeline/query-sql.js';
import { implicitWhen, resolveRange } from '../../pipeline/time-range.js';
import type { Io, Style } from '../io.js';
import { plural, renderColumns } from '../render/aggregates.js';
import { openSqlBackend } from '../sql-backend.js';
import type { ReconcileFlags } from './flags.js';

const HOUR_MS = 3_600_000;

export interface CellMismatch {
  window_start: string;
  currency: string;
  raw_count: number;
  raw_total: string;
  merged_count: number;
  merged_total: string;
}

export interface ReconcileReport {
  kind: 'paypipe.reconcile';
  engine: 'athena' | 'duckdb';
  target: 'aws' | 'local';
  range: { from: string; to: string };
  ok: boolean;
  /**
   * Raw lines read: counted, dead letters or unaccounted. A record with line breaks of its own (a
   * `line_break` dead letter) is several lines of the archive: `fragments` of the deadLetters are
   * such lines, each matched to one of the lines of its dead letter.
   */
  records: { raw: number; counted: number; deadLetters: number; unaccounted: number; fragments: number };
  /** No raw record in the range (yet): nothing was checked, so `ok` says nothing. */
  noRawRecords: boolean;
  /** The raw Firehose buffer, s: how long a record sent may take to reach the archive. */
  rawBufferSeconds: number;
  /** Dead letters of raw records in the range, by reject reason (dead letters without a raw record: deadLettersWithoutRaw). */
  deadLetterReasons: Record<string, number>;
  mismatches: CellMismatch[];
  /**
   * Windows short of records that may still be on their way (closed less than the Firehose buffer
   * and the aggregator's batching ago): not failures; run it again in a minute.
   */
  pending: CellMismatch[];
  /** Raw records neither a payment that parses nor a dead letter: their text. */
  unaccounted: Array<{ copies: number; line: string }>;
  /** Dead letters whose bytes are not in the raw archive (base64). */
  deadLettersWithoutRaw: string[];
  /** Where the merge rule cannot decide: kind, shard, sequence range. */
  undecided: string[];
  duplicates: Array<{
    transaction_id: string;
    copies: number;
    distinct_payloads: number;
    currency: string | null;
    extra_payments: number;
    extra_amount_at_most: string | null;
  }>;
  bytesScanned: number;
  costUsd?: number;
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
/** Decimal text without trailing zeros after the point ('12.500000000' → '12.5'). */
const dec = (v: unknown): string => {
  const s = str(v);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
};

export async function runReconcile(
  flags: ReconcileFlags,
  io: Io,
  nowMs = Date.now(),
): Promise<ReconcileReport> {
  const range = resolveRange(
    { since: flags.since ?? implicitWhen('--since', '1h'), until: flags.until },
    nowMs,
    { flags: ['--since', '--until'] },
  );
  const backend = await openSqlBackend(flags, io, { fromMs: range.fromMs, toMs: range.toMs + HOUR_MS });
  try {
    const o = { fromMs: range.fromMs, toMs: range.toMs, windowMs: backend.windowMs };
    // How long after a window closes its aggregate may still be on its way: the aggregator's
    // batching window and poll, then the Firehose buffer (as results --verify allows).
    const c = backend.target.config;
    const inFlightMs =
      (c.firehose.analytics.bufferIntervalSeconds + c.aggregator.maxBatchingWindowSeconds) * 1000 +
      (backend.target.kind === 'local' ? 5_000 : 60_000);
    const found = await backend.run(reconcileSql(backend.dialect, o), 'accounting identity');
    const dups = await backend.run(duplicatesSql(backend.dialect, o), 'duplicate transaction_ids');
    const report: ReconcileReport = {
      kind: 'paypipe.reconcile',
      engine: backend.engine,
      target: backend.target.kind,
      range: { from: new Date(range.fromMs).toISOString(), to: new Date(range.toMs).toISOString() },
      ok: true,
      records: { raw: 0, counted: 0, deadLetters: 0, unaccounted: 0, fragments: 0 },
      noRawRecords: false,
      rawBufferSeconds: c.firehose.raw.bufferIntervalSeconds,
      deadLetterReasons: {},
      mismatches: [],
      pending: [],
      unaccounted: [],
      deadLettersWithoutRaw: [],
      undecided: [],
      duplicates: dups.rows.map((r) => ({
        transaction_id: str(r.transaction_id),
        copies: num(r.copies),
        distinct_payloads: num(r.distinct_payloads),
        currency: r.currency === null ? null : str(r.currency),
        extra_payments: num(r.extra_payments),
        extra_amount_at_most: r.extra_amount_at_most === null ? null : dec(r.extra_amount_at_most),
      })),
      bytesScanned: found.bytesScanned + dups.bytesScanned,
      ...(found.costUsd === undefined ? {} : { costUsd: found.costUsd + (dups.costUsd ?? 0) }),
    };
    for (const r of found.rows) {
      switch (r.kind) {
        case 'summary': {
          const [counted, unaccounted, fragments] = str(r.detail).split('/');
          report.records = {
            raw: num(r.raw_count),
            deadLetters: num(r.merged_count),
            counted: num(counted),
            unaccounted: num(unaccounted),
            fragments: num(fragments),
          };
          break;
        }
        case 'cell_mismatch': {
          const m: CellMismatch = {
            window_start: new Date(num(r.window_ms)).toISOString(),
            currency: str(r.currency),
            raw_count: num(r.raw_count),
            raw_total: dec(r.raw_total),
            merged_count: num(r.merged_count),
            merged_total: dec(r.merged_total),
          };
          const inFlight = num(r.window_ms) + backend.windowMs > nowMs - inFlightMs;
          (inFlight && m.raw_count > m.merged_count ? report.pending : report.mismatches).push(m);
          break;
        }
        case 'unaccounted':
          report.unaccounted.push({ copies: num(r.raw_count), line: str(r.detail) });
          break;
        case 'dead_letter_without_raw':
          report.deadLettersWithoutRaw.push(str(r.detail));
          break;
        case 'dead_letter_reason':
          report.deadLetterReasons[str(r.currency)] = num(r.raw_count);
          break;
        case 'undecided':
          report.undecided.push(str(r.detail));
          break;
      }
    }
    report.noRawRecords = report.records.raw === 0;
    report.ok =
      report.mismatches.length === 0 &&
      report.unaccounted.length === 0 &&
      report.deadLettersWithoutRaw.length === 0 &&
      report.undecided.length === 0;
    return report;
  } finally {
    backend.close();
  }
}

const shellWord = (v: string): string => (/^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`);

/** The target flags as the user gave them, to repeat in a suggested command. */
export function targetArgs(flags: ReconcileFlags, athena = true): string {
  const out: string[] = [];
  if (flags.local === true) out.push('--local');
  const valued: Array<[string, string | undefined]> = [
    ['--data-dir', flags.dataDir],
    ['--env', flags.env],
    ['--project', flags.project],
    ['--region', flags.region],
    ['--profile', flags.profile],
    ['--stack', flags.stack],
    ...(athena
      ? ([
          ['--workgroup', flags.workgroup],
          ['--database', flags.database],
        ] as Array<[string, string | undefined]>)
      : []),
  ];
  for (const [flag, v] of valued) if (v !== undefined) out.push(flag, shellWord(v));
  return out.join(' ');
}

/** `flags`: the run's own, so the suggested follow-up asks about the same range and target. */
export function failureOf(r: ReconcileReport, flags: ReconcileFlags = {}): PaypipeError | undefined {
  if (r.ok) return undefined;
  const where: string[] = [];
  const m = r.mismatches[0];
  if (m !== undefined) {
    where.push(
      `${m.window_start} ${m.currency}: raw ${m.raw_count} (${m.raw_total}) vs aggregates ${m.merged_count} (${m.merged_total})`,
    );
  }
  if (r.undecided[0] !== undefined) where.push(r.undecided[0]);
  if (r.unaccounted[0] !== undefined) where.push(`unaccounted record ${r.unaccounted[0].line.slice(0, 80)}`);
  if (r.deadLettersWithoutRaw[0] !== undefined)
    where.push(`a dead letter not in the raw archive (${r.deadLettersWithoutRaw[0].slice(0, 40)})`);
  const n = r.mismatches.length + r.unaccounted.length + r.deadLettersWithoutRaw.length + r.undecided.length;
  return new PaypipeError(
    'CHECK_FAILED',
    `the accounting identity fails in ${plural(n, 'place')}: ${where.join('; ')}`,
    {
      hint: `see the report above; \`${['paypipe query --undecided', `--since ${r.range.from} --until ${r.range.to}`, targetArgs(flags)].filter((w) => w !== '').join(' ')}\` and \`${['paypipe dead-letters', targetArgs(flags, false)].filter((w) => w !== '').join(' ')}\` show more (docs/query.md)`,
      details: {
        mismatches: r.mismatches.length,
        unaccounted: r.unaccounted.length,
        undecided: r.undecided.length,
      },
    },
  );
}

const UNACCOUNTED_SHOWN = 20;
const DUPLICATES_SHOWN = 50;
const more = (n: number): string => `  … and ${n} more (--json has all)`;

export function renderReconcile(r: ReconcileReport, style: Style): string {
  const out: string[] = [];
  const rc = r.records;
  out.push(
    `${style.bold('Raw records')} ${r.range.from} → ${r.range.to} (${r.engine}): ${rc.raw} = ${rc.counted} counted + ${rc.deadLetters} dead letters + ${rc.unaccounted} unaccounted`,
  );
  if (rc.fragments > 0)
    out.push(
      style.dim(
        `  ${plural(rc.fragments, 'line')} of the dead letters ${rc.fragments === 1 ? 'is a line' : 'are lines'} of records that hold line breaks (line_break: the archive stores them as several lines)`,
      ),
    );
  const reasons = Object.entries(r.deadLetterReasons).sort((a, b) => b[1] - a[1]);
  if (reasons.length > 0)
    out.push(style.dim(`  dead letters by reason: ${reasons.map(([k, v]) => `${k} ${v}`).join(', ')}`));
  if (r.mismatches.length > 0) {
    out.push('', style.red('Windows where the raw records and the merged aggregates differ:'));
    out.push(
      renderColumns(
        ['window', 'currency', 'raw count', 'raw total', 'aggregated count', 'aggregated total'],
        r.mismatches.map((m) => [
          m.window_start,
          m.currency,
          String(m.raw_count),
          m.raw_total,
          String(m.merged_count),
          m.merged_total,
        ]),
        ['l', 'l', 'r', 'r', 'r', 'r'],
        style,
      ),
    );
  }
  if (r.undecided.length > 0) {
    out.push(
      '',
      style.red('Where the merge rule cannot decide (shard, sequence range):'),
      ...r.undecided.map((u) => `  ${u}`),
    );
  }
  if (r.unaccounted.length > 0) {
    out.push('', style.red('Raw records that are neither counted nor a dead letter:'));
    for (const u of r.unaccounted.slice(0, UNACCOUNTED_SHOWN))
      out.push(`  ${u.copies}× ${JSON.stringify(u.line.slice(0, 200))}`);
    if (r.unaccounted.length > UNACCOUNTED_SHOWN)
      out.push(style.dim(more(r.unaccounted.length - UNACCOUNTED_SHOWN)));
  }
  if (r.deadLettersWithoutRaw.length > 0) {
    out.push(
      '',
      style.red(
        `Dead letters whose bytes are not in the raw archive (not in the count above): ${r.deadLettersWithoutRaw.length}`,
      ),
    );
  }
  if (r.duplicates.length > 0) {
    out.push('', style.yellow('Duplicate transaction_ids (every copy is counted):'));
    out.push(
      renderColumns(
        ['transaction_id', 'copies', 'payloads', 'currency', 'extra payments', 'extra amount ≤'],
        r.duplicates
          .slice(0, DUPLICATES_SHOWN)
          .map((d) => [
            d.transaction_id,
            String(d.copies),
            d.distinct_payloads === 1 ? 'identical' : String(d.distinct_payloads),
            d.currency ?? '',
            String(d.extra_payments),
            d.extra_amount_at_most ?? '',
          ]),
        ['l', 'r', 'r', 'l', 'r', 'r'],
        style,
      ),
    );
    if (r.duplicates.length > DUPLICATES_SHOWN)
      out.push(style.dim(more(r.duplicates.length - DUPLICATES_SHOWN)));
  }
  out.push(
    '',
    !r.ok
      ? style.red('✗ the accounting identity fails')
      : r.noRawRecords
        ? style.yellow(
            `no raw records in ${r.range.from} → ${r.range.to} yet (the Firehose buffer is ${r.rawBufferSeconds} s)`,
          )
        : style.green('✓ every raw record is accounted for exactly once'),
  );
  return out.join('\n');
}
