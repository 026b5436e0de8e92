/**
 * `paypipe demo`: the whole pipeline on this machine in one command. Starts the local pipeline in a
 * temporary data dir, sends a reproducible burst (generator + the project's sender) with a few
 * malformed records, waits until everything has gone through to S3, merges the aggregates and
 * checks them against what was sent, currency by currency.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendRecords } from '../../aws/kinesis-sender.js';
import type { Aggregate } from '../../domain/aggregate.js';
import { mergeRecords } from '../../domain/exact-merge.js';
import { PREFIXES } from '../../pipeline/config.js';
import { serializeEvent, type PaymentEvent, type RejectReason } from '../../domain/event.js';
import { generateEvents, type GeneratedRecord } from '../../domain/generator.js';
import { PaypipeError } from '../../errors.js';
import { loadConfig } from '../configuration.js';
import { assemblyFor } from '../local-assembly.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/pipeline.js';
import { listKeys, readRecords } from '../../aws/s3-objects.js';
import { shellQuote } from '../hints.js';
import type { Io, Style } from '../io.js';
import {
  type CurrencyCheck,
  type CurrencyTotal,
  checkTotals,
  plural,
  renderAggregateTable,
  renderTotalsCheck,
  renderWindowChart,
  totalsByCurrency,
} from '../render/aggregates.js';

export interface DemoOptions {
  count: number;
  seed: number;
  /** Event times are spread over this many ms before now. */
  spanMs: number;
  malformed: number;
  keep: boolean;
  /** Give up waiting for the aggregates after this long. */
  timeoutMs: number;
  /** A cloud assembly to run (default: the cached synthesis of this checkout). */
  assembly?: string;
  /** For tests: where the kept/temporary data dir is created. */
  tmpRoot?: string;
}

export interface DemoResult {
  ok: boolean;
  sent: { events: number; malformed: number; seed: number };
  /** Merged per-window, per-currency aggregates read back from S3. */
  aggregates: Aggregate[];
  checks: CurrencyCheck[];
  deadLetters: {
    expected: number;
    found: number;
    reasons: Partial<Record<RejectReason, number>>;
    ok: boolean;
  };
  /** Batch output records in S3 before the merge (one per aggregator batch). */
  aggregateRecords: number;
  objects: { raw: number; aggregations: number; deadLetters: number };
  elapsedMs: number;
  /** Set with --keep. */
  dataDir: string | null;
}

export async function runDemo(o: DemoOptions, io: Io): Promise<DemoResult> {
  const started = performance.now();
  const dataDir = mkdtempSync(join(o.tmpRoot ?? tmpdir(), 'paypipe-demo-'));
  const spinner = await io.spinner('Starting the local pipeline (Kinesis + S3 API servers)…');
  let pipeline: LocalPipeline | undefined;
  // Ctrl-C mid-demo: kill the servers and remove the temp dir synchronously, then let the signal
  // end the process as it would have (exit status 130 for SIGINT).
  const onSignal = (sig: NodeJS.Signals): void => {
    spinner.stop();
    const serverPid = pipeline?.endpoints.serverPid;
    try {
      if (serverPid !== undefined) process.kill(serverPid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    if (!o.keep) rmSync(dataDir, { recursive: true, force: true });
    removeSignalHandlers();
    process.kill(process.pid, sig);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const removeSignalHandlers = (): void => {
    for (const sig of signals) process.off(sig, onSignal);
  };
  for (const sig of signals) process.on(sig, onSignal);
  try {
    const loaded = loadConfig();
    const assembly = await assemblyFor(loaded.config, o.assembly, () =>
      spinner.update('Synthesizing the stack (first local run after a source change)…'),
    );
    spinner.update('Starting the local pipeline (Kinesis + S3 API servers)…');
    pipeline = await startLocalPipeline({
      dataDir,
      assembly,
      // Seconds, not Firehose's default minute: the demo should finish in seconds.
      bufferIntervalSeconds: 1,
      // The environment's settings from paypipe.config.json (dev), like `paypipe up`.
      configOverrides: loaded.overrides,
      schedule: false,
      idlePollMs: 100,
      maxIdlePollMs: 200,
      log: (line) => io.debugLog(line),
    });
    const p = pipeline;
    const cfg = p.config;
    spinner.update(`Sending ${plural(o.count, 'payment')} and ${plural(o.malformed, 'malformed record')}…`);

    const nowMs = Date.now();
    const events = takeKind(generateEvents({ seed: o.seed, nowMs, spanMs: o.spanMs }), 'event', o.count).map(
      (r) => (r as Extract<GeneratedRecord, { kind: 'event' }>).event,
    );
    const bad = takeKind(
      generateEvents({ seed: o.seed + 1, nowMs, spanMs: o.spanMs, scenario: { malformedShare: 1 } }),
      'malformed',
      o.malformed,
    ) as Extract<GeneratedRecord, { kind: 'malformed' }>[];
    // Malformed records go in between valid ones: what follows them must still be aggregated.
    const records: Array<{ data: Uint8Array; partitionKey: string }> = events.map((e) => ({
      data: Buffer.from(serializeEvent(e)),
      partitionKey: e.transaction_id,
    }));
    bad.forEach((b, i) => {
      const at = Math.floor(((i + 1) * records.length) / (bad.length + 1));
      records.splice(at, 0, { data: Buffer.from(b.data), partitionKey: b.partitionKey });
    });
    const sent = await sendRecords(p.kinesis, cfg.streams.input.name, records);
    if (sent.failed > 0) {
      throw new PaypipeError(
        'UNSENT',
        `${sent.failed} of ${records.length} records could not be sent to the local stream`,
        {
          hint: `${sent.failedRecords[0]?.errorCode}: ${sent.failedRecords[0]?.errorMessage}`,
        },
      );
    }

    spinner.update('Waiting for every aggregate to reach S3…');
    // A fault (a function denied a call, a bundle that cannot load) ends the wait at once.
    await Promise.race([
      p.waitForIdle({ timeoutMs: o.timeoutMs }),
      p.fault.then((f) => {
        throw new PaypipeError('CHECK_FAILED', f.message, { hint: f.hint });
      }),
    ]);

    const expected = expectedTotals(events);
    const read = async () => {
      const aggs = await readRecords(p.s3, cfg.buckets.analytics, PREFIXES.aggregations);
      return { keys: aggs.keys.length, records: aggs.records.length, merged: mergeRecords(aggs.records) };
    };
    let got = await read();
    // Idle means delivered; a listing racing the last PutObject gets one more look.
    for (let i = 0; i < 10 && !sameTotals(expected, totalsByCurrency(got.merged.aggregates)); i++) {
      await new Promise((r) => setTimeout(r, 300));
      got = await read();
    }
    const checks = checkTotals(expected, totalsByCurrency(got.merged.aggregates));

    const dl = await readRecords(p.s3, cfg.buckets.analytics, cfg.aggregator.deadLetterPrefix);
    const reasons: Partial<Record<RejectReason, number>> = {};
    for (const r of dl.records as Array<{ reason: RejectReason }>)
      reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    const rawKeys = await listKeys(p.s3, cfg.buckets.raw, PREFIXES.raw);

    spinner.update('Stopping the local pipeline…');
    await p.stop({ flush: true });
    spinner.stop();

    const deadOk = dl.records.length === bad.length;
    const ok = checks.every((c) => c.ok) && deadOk && got.merged.complete;
    const result: DemoResult = {
      ok,
      sent: { events: events.length, malformed: bad.length, seed: o.seed },
      aggregates: got.merged.aggregates,
      checks,
      deadLetters: { expected: bad.length, found: dl.records.length, reasons, ok: deadOk },
      aggregateRecords: got.records,
      objects: { raw: rawKeys.length, aggregations: got.keys, deadLetters: dl.keys.length },
      elapsedMs: Math.round(performance.now() - started),
      dataDir: o.keep ? dataDir : null,
    };
    return result;
  } catch (e) {
    spinner.fail('The demo stopped with an error');
    throw e;
  } finally {
    removeSignalHandlers();
    await pipeline?.stop({ flush: true }).catch(() => {});
    if (!o.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

function takeKind(
  it: Iterator<GeneratedRecord>,
  kind: GeneratedRecord['kind'],
  n: number,
): GeneratedRecord[] {
  const out: GeneratedRecord[] = [];
  while (out.length < n) {
    const r = it.next().value as GeneratedRecord;
    if (r.kind === kind) out.push(r);
  }
  return out;
}

/** What the aggregates must add up to, computed from the events sent with the domain's own maths. */
function expectedTotals(events: readonly PaymentEvent[]): Map<string, CurrencyTotal> {
  const out = new Map<string, CurrencyTotal>();
  for (const e of events) {
    const t = out.get(e.currency) ?? { count: 0, totalMinor: 0 };
    t.count++;
    t.totalMinor += e.amountMinor;
    out.set(e.currency, t);
  }
  return out;
}

function sameTotals(a: ReadonlyMap<string, CurrencyTotal>, b: ReadonlyMap<string, CurrencyTotal>): boolean {
  return (
    a.size === b.size &&
    [...a].every(([k, v]) => b.get(k)?.count === v.count && b.get(k)?.totalMinor === v.totalMinor)
  );
}

export function renderDemo(r: DemoResult, style: Style): string {
  const reasons = Object.entries(r.deadLetters.reasons)
    .map(([k, v]) => `${k}${v > 1 ? ` ×${v}` : ''}`)
    .join(', ');
  const lines = [
    style.bold(
      `Sent ${plural(r.sent.events, 'payment')} (seed ${r.sent.seed}) and ${plural(r.sent.malformed, 'malformed record')} through Kinesis → aggregator → Firehose → S3.`,
    ),
    '',
    style.bold('Aggregates per 1-minute window (merged from S3):'),
    renderAggregateTable(r.aggregates, style),
    '',
    style.bold('Payments per window:'),
    renderWindowChart(r.aggregates, style),
    '',
    style.bold('Totals check (aggregates in S3 vs. payments sent):'),
    renderTotalsCheck(r.checks, style),
    `${r.deadLetters.ok ? style.green('✓') : style.red('✗')} dead letters  ${r.deadLetters.found} of ${r.deadLetters.expected} malformed records in s3://…/${PREFIXES.deadLetters}${reasons === '' ? '' : ` (${reasons})`}`,
    '',
    style.dim(
      `${plural(r.aggregateRecords, 'batch output')} in ${plural(r.objects.aggregations, 'gzip object')}, ${plural(r.objects.raw, 'raw object')}; ${(r.elapsedMs / 1000).toFixed(1)} s in all.`,
    ),
  ];
  if (r.dataDir !== null) {
    lines.push(
      '',
      `Kept the data in ${r.dataDir}`,
      `  paypipe up --data-dir ${shellQuote(r.dataDir)}       # start it again`,
      `  paypipe results --local --data-dir ${shellQuote(r.dataDir)}`,
    );
  }
  lines.push('', r.ok ? style.green('All totals match.') : style.red('Totals do NOT match what was sent.'));
  return lines.join('\n');
}

/** The action: runs, prints, and fails (exit 1) when the totals do not match. */
export async function demoCommand(o: DemoOptions, io: Io): Promise<void> {
  const r = await runDemo(o, io);
  io.result(r, renderDemo);
  if (!r.ok) {
    throw new PaypipeError('VERIFY_MISMATCH', 'the aggregates in S3 do not match the payments sent', {
      hint: 'run again with --keep --debug and inspect the data dir; please report it',
    });
  }
}
