/**
 * The `paypipe results` action: pick the hour partitions a time range can touch (plus the next
 * hour: Firehose partitions by ARRIVAL time, so the aggregate of window 10:59 may sit in hour=11),
 * list them (any number of keys), download and decode in parallel with bounded memory, merge per
 * (window, currency) with the domain's one merge rule (src/domain/exact-merge.ts: per shard, a
 * disjoint chain of complete batch outputs; old-format aggregates each id once), keep only the
 * windows in range, render.
 *
 * The totals are `complete` only when nothing kept them from being exact and whole. Damaged objects
 * are reported by key with what was salvaged and do not stop the run; exit 1 at the end for: a
 * --verify mismatch, objects S3 would not give us after retries, damaged objects (unless
 * --allow-damaged), or with --strict anything incomplete (no chain of batch outputs, conflicts)
 * or any invalid record.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { S3Client } from '../../aws/s3.js';
import type { Aggregate } from '../../domain/aggregate.js';
import { ExactMerger, type MergeIssue, type MergeStats } from '../../domain/exact-merge.js';
import { PREFIXES } from '../../pipeline/config.js';
import { currencyExponent } from '../../domain/currency.js';
import { averageMinor, formatMinor } from '../../domain/money.js';
import { hourPrefixes } from '../../pipeline/partitions.js';
import { isoMs } from '../../domain/window.js';
import { PaypipeError, usageError } from '../../errors.js';
import type { ResultsFlags } from './flags.js';
import type { Io, Style } from '../io.js';
import { ioFor } from '../options.js';
import {
  formatCount,
  formatMinorAmount,
  plural,
  renderAggregateTable,
  renderColumns,
  renderWindowChart,
} from '../render/aggregates.js';
import { resolveTarget } from '../target.js';
import { addStats, type CurrencyStats, RawAccumulator } from './results-merge.js';
import { parseExactTotal, readSummaryTotals } from '../../pipeline/send-summary.js';
import {
  HOUR_MS,
  implicitWhen,
  oneOf,
  type RangeFlags,
  rangeOfEventTimes,
  resolveRange,
  type TimeRange,
} from '../../pipeline/time-range.js';
import {
  renderVerify,
  type VerifyDoc,
  type VerifyInput,
  verify,
  verifyHeadline,
  verifyHint,
} from './verify.js';

export type ResultsFormat = 'table' | 'json' | 'ndjson' | 'csv';

export interface CurrencySummary {
  count: number;
  /** Exact amounts with the currency's decimals. */
  total: string;
  avg: string;
  min: string;
  max: string;
}

export interface ObjectProblem {
  key: string;
  kind: string;
  message: string;
  /** Records decoded before the damage. */
  salvaged: number;
}

export interface ResultsDoc {
  kind: 'paypipe.results';
  mode: 'aggregations' | 'raw';
  target: 'aws' | 'local';
  bucket: string;
  range: { from: string; to: string };
  prefixes: string[];
  objects: { listed: number; damaged: number; unreadable: number; bytes: number };
  /**
   * The figures are those of every record the pipeline accepted in the range, each once: no
   * damaged or unreadable object, and (aggregations) a disjoint chain of complete batch outputs
   * for every shard, no conflicting figures. Why not: `problems` and `issues`.
   */
  complete: boolean;
  /** Records decoded from all objects. */
  records: number;
  /** Aggregations: batch output parts and old-format aggregates seen again. Raw: events repeating a transaction_id. */
  duplicates: number;
  /** Valid records outside the range (the extra hour read for late arrivals, or late events). */
  outOfRange: number;
  /** Records that are not aggregates (or, with --raw, not valid events). */
  invalid: number;
  invalidByReason?: Record<string, number>;
  /** Aggregations mode: batch outputs seen, complete, counted (the chain) and superseded. */
  batches?: MergeStats['batchOutputs'];
  /** Aggregations mode: aggregates of the old format (no batch range), merged by id. */
  legacy?: MergeStats['legacy'];
  /** Aggregations mode: why the merge could not be exact and whole (at most 50 listed). */
  issues?: MergeIssue[];
  /** Merged, one per (window, currency); aggregations mode only. */
  aggregates?: Aggregate[];
  byCurrency: Record<string, CurrencySummary>;
  perWindow: Array<{ window_start: string; count: number }>;
  /** Objects damaged or unreadable, by key. */
  problems: ObjectProblem[];
  verify?: VerifyDoc;
}

export interface FilesDoc {
  kind: 'paypipe.results.files';
  bucket: string;
  range: { from: string; to: string };
  files: Array<{ key: string; size: number; records: number; problem: string | null }>;
}

export interface ReadResultsOptions {
  bucket: string;
  range: TimeRange;
  raw: boolean;
  windowMs: number;
  maxFutureSkewMs: number;
  concurrency?: number | undefined;
  nowMs: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Whole-object attempts (see readObjects); tests shorten the waits with `sleep`. */
  maxAttempts?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  /** Called once the listing is known (before any download). */
  onListed?: ((objects: number, bytes: number) => void) | undefined;
}

export interface ReadResultsOutput {
  doc: Omit<ResultsDoc, 'target'>;
  files: FilesDoc['files'];
  /** Exact per-currency totals for --verify. */
  totals: Map<string, { count: number; totalMinor: number }>;
}

/** Everything `results` reads and computes, without any rendering (also used by bench/results.ts). */
export async function readResults(s3: S3Client, o: ReadResultsOptions): Promise<ReadResultsOutput> {
  const { listObjects, readObjects } = await import('../../aws/s3-objects.js');
  const base = o.raw ? PREFIXES.raw : PREFIXES.aggregations;
  // Hours from the range's first through the hour after its last: late arrivals land there.
  const prefixes = hourPrefixes(base, o.range.fromMs, o.range.toMs - 1 + HOUR_MS);
  const objects = await listObjects(s3, o.bucket, prefixes, { signal: o.signal });
  const bytes = objects.reduce((s, x) => s + x.size, 0);
  o.onListed?.(objects.length, bytes);
  const agg = o.raw ? undefined : new ExactMerger(o.range);
  const raw = o.raw
    ? new RawAccumulator({
        ...o.range,
        windowMs: o.windowMs,
        nowMs: o.nowMs,
        maxFutureSkewMs: o.maxFutureSkewMs,
      })
    : undefined;
  let done = 0;
  const outcomes = await readObjects(s3, o.bucket, objects, {
    concurrency: o.concurrency ?? 16,
    signal: o.signal,
    ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }),
    ...(o.sleep === undefined ? {} : { sleep: o.sleep }),
    onRecords: (records) => {
      if (agg !== undefined) for (const r of records) agg.add(r);
      else if (raw !== undefined) for (const r of records) raw.add(r);
    },
    onObject: () => o.onProgress?.(++done, objects.length),
  });
  const problems: ObjectProblem[] = [];
  for (const oc of outcomes) {
    if (oc.problem !== undefined) {
      problems.push({
        key: oc.key,
        kind: oc.problem.kind,
        message: oc.problem.message,
        salvaged: oc.records,
      });
    }
  }
  const merged = agg?.result();
  const stats = new Map<string, CurrencyStats>();
  const windows = new Map<number, number>();
  if (merged !== undefined) {
    for (const c of merged.cells) {
      addStats(stats, c.currency, c.totals);
      windows.set(c.windowStartMs, (windows.get(c.windowStartMs) ?? 0) + c.totals.count);
    }
  } else if (raw !== undefined) {
    for (const [c, s] of raw.byCurrency()) stats.set(c, s);
    for (const [w, n] of raw.perWindow()) windows.set(w, n);
  }
  const totals = new Map<string, { count: number; totalMinor: number }>();
  for (const [c, s] of stats) totals.set(c, { count: s.count, totalMinor: s.totalMinor });
  const doc: Omit<ResultsDoc, 'target'> = {
    kind: 'paypipe.results',
    mode: o.raw ? 'raw' : 'aggregations',
    bucket: o.bucket,
    range: { from: isoMs(o.range.fromMs), to: isoMs(o.range.toMs) },
    prefixes,
    objects: {
      listed: objects.length,
      damaged: problems.filter((p) => p.kind !== 's3').length,
      unreadable: problems.filter((p) => p.kind === 's3').length,
      bytes,
    },
    complete: problems.length === 0 && (merged?.complete ?? true),
    records: merged?.stats.records ?? (raw as RawAccumulator).records,
    duplicates: merged?.stats.duplicates ?? (raw as RawAccumulator).duplicateIds,
    outOfRange: merged?.stats.outOfRange ?? (raw as RawAccumulator).outOfRange,
    invalid: merged?.stats.invalid ?? (raw as RawAccumulator).invalid,
    ...(raw === undefined ? {} : { invalidByReason: Object.fromEntries([...raw.invalidByReason].sort()) }),
    ...(merged === undefined
      ? {}
      : {
          batches: merged.stats.batchOutputs,
          legacy: merged.stats.legacy,
          issues: merged.issues,
          aggregates: merged.aggregates,
        }),
    byCurrency: summarize(stats),
    perWindow: [...windows]
      .sort(([a], [b]) => a - b)
      .map(([w, count]) => ({ window_start: isoMs(w), count })),
    problems,
  };
  const files = outcomes.map((oc) => ({
    key: oc.key,
    size: oc.size,
    records: oc.records,
    problem: oc.problem === undefined ? null : oc.problem.message,
  }));
  return { doc, files, totals };
}

function summarize(stats: ReadonlyMap<string, CurrencyStats>): Record<string, CurrencySummary> {
  const out: Record<string, CurrencySummary> = {};
  for (const c of [...stats.keys()].sort()) {
    const s = stats.get(c) as CurrencyStats;
    const exp = currencyExponent(c) ?? 2;
    out[c] = {
      count: s.count,
      total: formatMinor(s.totalMinor, exp),
      avg: formatMinor(averageMinor(s.totalMinor, s.count), exp),
      min: formatMinor(s.minMinor, exp),
      max: formatMinor(s.maxMinor, exp),
    };
  }
  return out;
}

const mb = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 / 1024).toFixed(1)} MiB`;

const rangeLabel = (r: { from: string; to: string }): string =>
  `${r.from.slice(0, 16).replace('T', ' ')} → ${r.to.slice(0, 16).replace('T', ' ')} UTC`;

export function renderResults(d: ResultsDoc, style: Style): string {
  const out: string[] = [];
  const what = d.mode === 'raw' ? 'raw events' : 'aggregates';
  out.push(
    style.bold(`${what} in ${d.bucket}, ${rangeLabel(d.range)}`) +
      style.dim(
        `  ·  ${plural(d.objects.listed, 'object')} (${mb(d.objects.bytes)})  ·  ${plural(d.records, 'record')}` +
          (d.duplicates > 0
            ? `  ·  ${formatCount(d.duplicates)} ${d.mode === 'raw' ? 'repeated transaction ids' : 'duplicates counted once'}`
            : '') +
          (d.outOfRange > 0 ? `  ·  ${formatCount(d.outOfRange)} outside the range` : ''),
      ),
  );
  out.push('');
  if (d.objects.listed === 0) {
    out.push(
      style.dim(
        `no objects under ${d.prefixes.join(', ')} — is the pipeline running? Firehose delivers a buffer every minute or so`,
      ),
    );
  } else if (d.mode === 'aggregations') {
    out.push(renderAggregateTable(d.aggregates ?? [], style));
  }
  const chartRows = d.perWindow.map((w) => ({
    window_start: w.window_start,
    currency: '',
    transaction_count: w.count,
    total_amount: 0,
    avg_amount: 0,
    min_amount: 0,
    max_amount: 0,
  }));
  const chart = renderWindowChart(chartRows, style);
  if (chart !== '') out.push('', style.bold('transactions per minute'), chart);
  const cur = Object.entries(d.byCurrency);
  if (cur.length > 0) {
    const money = (c: string, v: string): string => {
      const minor = parseExactTotal(v, c);
      return minor === undefined ? v : formatMinorAmount(minor, c);
    };
    out.push(
      '',
      renderColumns(
        ['currency', 'count', 'total', 'avg', 'min', 'max'],
        cur.map(([c, s]) => [
          c,
          formatCount(s.count),
          money(c, s.total),
          money(c, s.avg),
          money(c, s.min),
          money(c, s.max),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
        style,
      ),
    );
  }
  if (d.invalid > 0) {
    const reasons =
      d.invalidByReason === undefined
        ? ''
        : ` (${Object.entries(d.invalidByReason)
            .map(([r, n]) => `${r} ${n}`)
            .join(', ')})`;
    out.push(
      '',
      style.yellow(
        `${d.invalid === 1 ? '1 record was not' : `${formatCount(d.invalid)} records were not`} ${d.mode === 'raw' ? 'valid events' : 'aggregates'}${reasons}`,
      ),
    );
  }
  const batches = d.batches;
  if (batches !== undefined && (batches.seen > 0 || (d.legacy?.aggregates ?? 0) > 0)) {
    const legacy = d.legacy?.aggregates ?? 0;
    out.push(
      '',
      style.dim(
        `${formatCount(batches.seen)} batch outputs from ${formatCount(batches.shards)} shard(s): ${formatCount(batches.counted)} counted` +
          (batches.superseded > 0
            ? `, ${formatCount(batches.superseded)} superseded (retries, bisected halves)`
            : '') +
          (batches.incomplete > 0 ? `, ${formatCount(batches.incomplete)} incomplete attempts ignored` : '') +
          (legacy > 0 ? `; ${formatCount(legacy)} old-format aggregates merged by id` : ''),
      ),
    );
  }
  const issues = (d.issues ?? []).filter((i) => i.affectsRange);
  if (issues.length > 0) {
    out.push(
      '',
      style.red(
        `${issues.length === 50 ? '50 or more problems' : plural(issues.length, 'problem')} in the aggregates:`,
      ),
    );
    for (const i of issues) out.push(`  ${style.red('✗')} ${i.message}`);
  }
  if (d.problems.length > 0) {
    out.push('', style.yellow(`${plural(d.problems.length, 'object')} could not be read completely:`));
    for (const p of d.problems) {
      out.push(
        `  ${style.red('✗')} ${p.message}${p.salvaged > 0 ? ` — ${formatCount(p.salvaged)} records salvaged` : ' — nothing salvaged'}`,
      );
    }
  }
  if (!d.complete) {
    out.push('', style.red('The totals above are INCOMPLETE (see why above).'));
  }
  if (d.verify !== undefined) out.push('', renderVerify(d.verify, style));
  return out.join('\n');
}

export function renderFiles(d: FilesDoc, style: Style): string {
  if (d.files.length === 0) return style.dim(`(no objects in ${d.bucket} for ${rangeLabel(d.range)})`);
  const rows = d.files.map((f) => [
    f.key,
    formatCount(f.size),
    formatCount(f.records),
    f.problem === null ? 'ok' : style.red(f.problem),
  ]);
  const total = d.files.reduce((s, f) => s + f.size, 0);
  const recs = d.files.reduce((s, f) => s + f.records, 0);
  return [
    renderColumns(['key', 'bytes', 'records', 'status'], rows, ['l', 'r', 'r', 'l'], style),
    style.dim(`${plural(d.files.length, 'object')}, ${mb(total)}, ${plural(recs, 'record')}`),
  ].join('\n');
}

const csvCell = (v: string | number): string => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
};
const csvLine = (cells: ReadonlyArray<string | number>): string => cells.map(csvCell).join(',');

/** Amount with exactly the currency's decimals (CSV consumers should not see 12.5 for 12.50). */
const fixed = (amount: number, currency: string): string => {
  const exp = currencyExponent(currency) ?? 2;
  return amount.toFixed(exp);
};

export async function resultsCommand(flags: ResultsFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const format: ResultsFormat = io.json ? 'json' : (flags.format ?? 'table');
  if (io.json && flags.format !== undefined && flags.format !== 'json') {
    throw usageError(`--json and --format ${flags.format} conflict; use one of them`);
  }
  let nowMs = Date.now();
  const rangeFlags: RangeFlags = {
    since: oneOf(flags.since, flags.last, flags.from) ?? implicitWhen('--since', '1h'),
    until: oneOf(flags.until, flags.to),
    date: flags.date,
    hour: flags.hour,
  };
  if (flags.wait !== undefined && flags.verify === undefined) {
    throw usageError('--wait goes with --verify: it waits for the aggregates of that send');
  }
  // Read and check the summary before anything touches the network.
  let check: (VerifyInput & { eventTime: { from: string; to: string } | null }) | undefined;
  if (flags.verify !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.verify, 'utf8');
    } catch (e) {
      throw usageError(
        `--verify ${flags.verify}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw usageError(
        `--verify ${flags.verify}: not JSON`,
        'give it the output of `paypipe send --json > summary.json`',
      );
    }
    const { summary, totals, windows } = readSummaryTotals(parsed, flags.verify);
    check = {
      file: flags.verify,
      totals,
      // --raw reads events, not aggregates: compared per currency over the range.
      windows: flags.raw === true ? undefined : windows,
      finishedMs: summary.finishedAt === undefined ? undefined : Date.parse(summary.finishedAt),
      eventTime: summary.eventTime,
    };
    if (flags.files === true) throw usageError('--files lists objects; it cannot be combined with --verify');
  }
  // Validates the range flags (usage errors) before the target is resolved.
  resolveRange(rangeFlags, nowMs);
  const target = await resolveTarget(flags, {
    overrides: flags.raw === true ? { rawBucket: flags.bucket } : { analyticsBucket: flags.bucket },
    need: [flags.raw === true ? 'rawBucket' : 'analyticsBucket'],
  });
  const windowMs = target.config.aggregator.windowSeconds * 1000;
  const fallback =
    check?.eventTime === null || check?.eventTime === undefined
      ? undefined
      : rangeOfEventTimes(check.eventTime.from, check.eventTime.to, windowMs);
  const range = resolveRange(rangeFlags, nowMs, { fallback });
  const bucket = flags.raw === true ? target.names.rawBucket : target.names.analyticsBucket;
  const bufferSeconds = target.config.firehose.analytics.bufferIntervalSeconds;
  // After the last event is sent: the aggregator's batching window and its poll (seconds), then the
  // Firehose buffer. On AWS the event source mapping polls about once a second and Lambda may
  // retry, so allow it a minute; the local pollers run in-process.
  const inFlightMs =
    (bufferSeconds + target.config.aggregator.maxBatchingWindowSeconds) * 1000 +
    (target.kind === 'local' ? 5_000 : 60_000);

  // A month is 43,200 objects to download: on AWS, past a day, say how to ask Athena instead (one
  // query, the same merge rule in SQL; docs/query.md). The output here stays what it always was.
  const athenaHint = longRangeHint(target.kind, range, flags);
  if (athenaHint !== undefined) io.info(athenaHint);

  const { s3Client } = await import('../../aws/clients.js');
  const s3 = await s3Client(target.clientTarget);
  const readOnce = async (): Promise<ReadResultsOutput> => {
    const spinner = await io.spinner(
      `listing ${bucket} for ${rangeLabel({ from: isoMs(range.fromMs), to: isoMs(range.toMs) })}…`,
    );
    try {
      const r = await readResults(s3, {
        bucket,
        range,
        raw: flags.raw === true,
        windowMs,
        maxFutureSkewMs: target.config.aggregator.maxFutureSkewMs,
        concurrency: flags.concurrency,
        nowMs,
        onListed: (n, bytes) =>
          spinner.update(`reading ${plural(n, 'object')} (${mb(bytes)}) from ${bucket}…`),
        onProgress: (done, total) =>
          spinner.update(`reading objects from ${bucket}: ${formatCount(done)}/${formatCount(total)}`),
      });
      spinner.succeed(
        `read ${plural(r.doc.objects.listed, 'object')} (${mb(r.doc.objects.bytes)}) from ${bucket}`,
      );
      return r;
    } catch (e) {
      spinner.fail(`reading ${bucket} failed`);
      throw e;
    }
  };
  const verdict = (o: ReadResultsOutput): VerifyDoc | undefined =>
    check === undefined
      ? undefined
      : verify(check, o.doc.aggregates ?? [], o.totals, { nowMs, range, bufferSeconds, inFlightMs });
  let out: ReadResultsOutput;
  let checked: VerifyDoc | undefined;
  try {
    out = await readOnce();
    checked = verdict(out);
    // --wait: read again while the only difference is aggregates that may still be on their way.
    const deadline = nowMs + (flags.wait ?? 0);
    while (checked?.status === 'pending' && Date.now() < deadline) {
      const pause = Math.min(5_000, Math.max(1_000, (bufferSeconds * 1000) / 4), deadline - Date.now());
      io.info(`${verifyHeadline(checked)}; reading again in ${Math.ceil(pause / 1000)} s…`);
      await new Promise((r) => setTimeout(r, pause));
      nowMs = Date.now();
      out = await readOnce();
      checked = verdict(out);
    }
  } finally {
    s3.destroy();
  }
  for (const p of out.doc.problems) io.debugLog(`${p.kind}: ${p.message}`);

  if (flags.files === true) {
    const fd: FilesDoc = { kind: 'paypipe.results.files', bucket, range: out.doc.range, files: out.files };
    if (format === 'json') io.line(fd, JSON.stringify(fd, null, 2));
    else if (format === 'ndjson') for (const f of fd.files) io.line(f, JSON.stringify(f));
    else if (format === 'csv') {
      io.line(null, csvLine(['key', 'bytes', 'records', 'problem']));
      for (const f of fd.files) io.line(f, csvLine([f.key, f.size, f.records, f.problem ?? '']));
    } else io.result(fd, renderFiles);
    return finish(out.doc, flags, io);
  }

  const doc: ResultsDoc = { ...out.doc, target: target.kind };
  if (checked !== undefined) doc.verify = checked;
  if (format === 'json') io.line(doc, JSON.stringify(doc, null, 2));
  else if (format === 'ndjson') {
    if (doc.mode === 'aggregations') for (const a of doc.aggregates ?? []) io.line(a, JSON.stringify(a));
    else
      for (const [currency, s] of Object.entries(doc.byCurrency))
        io.line({ currency, ...s }, JSON.stringify({ currency, ...s }));
    for (const p of doc.problems) io.warn(p.message);
    for (const i of doc.issues ?? []) if (i.affectsRange) io.warn(i.message);
  } else if (format === 'csv') {
    if (doc.mode === 'aggregations') {
      io.line(
        null,
        csvLine([
          'window_start',
          'window_end',
          'currency',
          'transaction_count',
          'total_amount',
          'avg_amount',
          'min_amount',
          'max_amount',
        ]),
      );
      for (const a of doc.aggregates ?? []) {
        io.line(
          a,
          csvLine([
            a.window_start,
            a.window_end,
            a.currency,
            a.transaction_count,
            fixed(a.total_amount, a.currency),
            fixed(a.avg_amount, a.currency),
            fixed(a.min_amount, a.currency),
            fixed(a.max_amount, a.currency),
          ]),
        );
      }
    } else {
      io.line(null, csvLine(['currency', 'count', 'total', 'avg', 'min', 'max']));
      for (const [c, s] of Object.entries(doc.byCurrency))
        io.line(s, csvLine([c, s.count, s.total, s.avg, s.min, s.max]));
    }
    for (const p of doc.problems) io.warn(p.message);
    for (const i of doc.issues ?? []) if (i.affectsRange) io.warn(i.message);
  } else io.result(doc, renderResults);
  if (doc.verify !== undefined && !doc.verify.ok) {
    const v = doc.verify;
    throw new PaypipeError(v.status === 'pending' ? 'VERIFY_PENDING' : 'VERIFY_MISMATCH', verifyHeadline(v), {
      hint: verifyHint(v),
      details: { status: v.status, currencies: v.checks.filter((c) => !c.ok).map((c) => c.currency) },
    });
  }
  return finish(doc, flags, io);
}

/** The exit status rules after the output is printed. */
function finish(d: Omit<ResultsDoc, 'target'>, flags: ResultsFlags, _io: Io): void {
  const issues = (d.issues ?? []).filter((i) => i.affectsRange).length;
  if (d.objects.unreadable > 0) {
    throw new PaypipeError(
      'AWS',
      `${plural(d.objects.unreadable, 'object')} could not be read from ${d.bucket} after retries; the results above are incomplete`,
      {
        hint: 'run again; --debug shows each S3 error',
      },
    );
  }
  // Damage never passes silently: what was salvaged is shown and counted, but the totals are not whole.
  if (d.objects.damaged > 0 && flags.allowDamaged !== true) {
    throw new PaypipeError(
      'DATA',
      `${plural(d.objects.damaged, 'damaged object')} in ${d.bucket}; the results above are incomplete`,
      {
        hint: 'the keys are listed above; --allow-damaged accepts them (what was salvaged from them is counted)',
      },
    );
  }
  if (flags.strict === true && (issues > 0 || d.invalid > 0)) {
    throw new PaypipeError(
      'DATA',
      `--strict: ${plural(issues, 'problem')} in the aggregates (no disjoint chain of batch outputs, conflicting figures), ${plural(d.invalid, 'invalid record')}`,
      { hint: 'they are listed above; without --strict they are reported and the run succeeds' },
    );
  }
}

/** Past this, `results` on AWS points at `paypipe query` (Athena). */
export const ATHENA_HINT_AFTER_MS = 86_400_000;

/** The hint for a long AWS range (plain aggregates only), or undefined. */
export function longRangeHint(
  kind: 'aws' | 'local',
  range: { fromMs: number; toMs: number },
  flags: Pick<ResultsFlags, 'raw' | 'files' | 'verify'>,
): string | undefined {
  if (kind !== 'aws' || flags.raw === true || flags.files === true || flags.verify !== undefined)
    return undefined;
  if (range.toMs - range.fromMs <= ATHENA_HINT_AFTER_MS) return undefined;
  const hours = Math.ceil((range.toMs - range.fromMs) / 3_600_000);
  const at = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16)}Z`;
  return `this range spans ${hours} hours (about ${formatCount(hours * 60)} objects to download); one Athena query answers it with the same merge rule: paypipe query --windows --since ${at(range.fromMs)} --until ${at(range.toMs)}`;
}
