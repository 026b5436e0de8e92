/**
 * Shared test helpers: a local pipeline (real kinesalite + s3rver) in a temp data dir, sending
 * events into it, and reading back what it wrote. Any test suite can use them:
 *
 *   const p = await startTestPipeline();
 *   afterAll(() => p.cleanup());
 *   await sendEvents(p, events);
 *   await p.waitForIdle();
 *   const merged = await readMergedAggregates(p);
 *
 * The pipeline writes `<dataDir>/endpoints.json`, so CLI commands can be pointed at it with
 * `--local --data-dir <p.dataDir>`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendRecords } from '../../src/aws/kinesis-sender.js';
import { type Aggregate, BatchAggregator } from '../../src/domain/aggregate.js';
import { type MergeResult, mergeRecords } from '../../src/domain/exact-merge.js';
import { type PaymentEvent, serializeEvent, type WireEvent } from '../../src/domain/event.js';
import {
  type LocalPipeline,
  type LocalPipelineOptions,
  startLocalPipeline,
} from '../../src/local/pipeline.js';
import { readRecords } from '../../src/aws/s3-objects.js';
import { currencyExponent } from '../../src/domain/currency.js';
import { toMinor } from '../../src/domain/money.js';
import { prepareLocalAssembly } from '../../src/cli/local-assembly.js';
import { resolveConfig } from '../../src/pipeline/config.js';

export interface TestPipeline extends LocalPipeline {
  /** Stops the pipeline (clean stop unless it was already stopped) and deletes its data dir. */
  cleanup(): Promise<void>;
}

let assembly: Promise<string> | undefined;

/**
 * The cloud assembly every test pipeline runs: this checkout's stack synthesized once for the
 * default configuration (cached across test files and runs until a source changes), so the tests
 * exercise the same bundles a deploy uploads.
 */
export function testAssembly(): Promise<string> {
  assembly ??= prepareLocalAssembly(resolveConfig({})).then((a) => a.dir);
  return assembly;
}

export function tempDataDir(label = 'local'): string {
  return mkdtempSync(join(tmpdir(), `paypipe-${label}-`));
}

/**
 * Starts a local pipeline for a test: temp data dir (unless given), no schedule, 1 s Firehose
 * buffers, no batching window, fast idle polling. Options pass through to startLocalPipeline.
 */
export async function startTestPipeline(opts: Partial<LocalPipelineOptions> = {}): Promise<TestPipeline> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const p = await startLocalPipeline({
    assembly: opts.assembly ?? (await testAssembly()),
    schedule: false,
    bufferIntervalSeconds: 1,
    idlePollMs: 50,
    maxIdlePollMs: 100,
    ...opts,
    // No batching window unless a test asks for one: each wait for the pipeline saves a second.
    configOverrides: { maxBatchingWindowSeconds: 0, ...opts.configOverrides },
    dataDir,
  });
  return Object.assign(p, {
    cleanup: async () => {
      await p.stop({ flush: false }).catch(() => {});
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export interface RawRecord {
  data: string | Uint8Array;
  partitionKey: string;
}

/** Puts records on the pipeline's input stream with the project's sender; throws if any is unsent. */
export async function sendRaw(p: LocalPipeline, records: readonly RawRecord[]): Promise<void> {
  const s = await sendRecords(
    p.kinesis,
    p.config.streams.input.name,
    records.map((r) => ({
      data: typeof r.data === 'string' ? Buffer.from(r.data) : r.data,
      partitionKey: r.partitionKey,
    })),
  );
  if (s.failed > 0) throw new Error(`${s.failed} records unsent: ${s.failedRecords[0]?.errorCode}`);
}

export async function sendEvents(p: LocalPipeline, events: readonly WireEvent[]): Promise<void> {
  await sendRaw(
    p,
    events.map((e) => ({ data: serializeEvent(e), partitionKey: e.transaction_id })),
  );
}

/**
 * Reads every record the analytics Firehose delivered and merges them with the one merge rule;
 * throws on a damaged object or a record that is not an aggregation record.
 */
export async function readMergedAggregates(p: LocalPipeline): Promise<MergeResult & { raw: unknown[] }> {
  const { records, errors } = await readRecords(p.s3, p.config.buckets.analytics, 'aggregations/');
  if (errors.length > 0) throw new Error(errors[0]?.message);
  const m = mergeRecords(records);
  if (m.stats.invalid > 0) throw new Error(m.invalidSamples[0]);
  return { ...m, raw: records };
}

export interface Cell {
  window_start: string;
  currency: string;
  transaction_count: number;
  total_amount: number;
  min_amount: number;
  max_amount: number;
}

/** What the merged aggregates must be for these events, computed independently of the pipeline. */
export function expectedCells(events: readonly WireEvent[], windowSeconds: number): Cell[] {
  const acc = new BatchAggregator(windowSeconds * 1000);
  for (const e of events) {
    const exp = currencyExponent(e.currency);
    const m = exp === undefined ? undefined : toMinor(e.amount, exp);
    if (m === undefined || !m.ok) throw new Error(`test event ${e.transaction_id} is not valid`);
    const pe: PaymentEvent = { ...e, amountMinor: m.minor };
    acc.add(pe);
  }
  return toCells(acc.toAggregates({ shardId: 'x', firstSequenceNumber: '0', lastSequenceNumber: '0' }));
}

export function toCells(aggs: readonly Aggregate[]): Cell[] {
  return aggs
    .map((a) => ({
      window_start: a.window_start,
      currency: a.currency,
      transaction_count: a.transaction_count,
      total_amount: a.total_amount,
      min_amount: a.min_amount,
      max_amount: a.max_amount,
    }))
    .sort((a, b) => (a.window_start + a.currency < b.window_start + b.currency ? -1 : 1));
}

/** Raw events the raw Firehose delivered (decoded from the concatenated objects under data/). */
export async function readRawEvents(p: LocalPipeline): Promise<unknown[]> {
  const { records, errors } = await readRecords(p.s3, p.config.buckets.raw, 'data/');
  if (errors.length > 0) throw new Error(errors[0]?.message);
  return records;
}

/** Every dead-letter line the aggregator wrote. */
export async function readDeadLetters(
  p: LocalPipeline,
): Promise<Array<{ reason: string; sequence_number: string; data_base64: string }>> {
  const { records } = await readRecords(
    p.s3,
    p.config.buckets.analytics,
    p.config.aggregator.deadLetterPrefix,
  );
  return records as Array<{ reason: string; sequence_number: string; data_base64: string }>;
}

/** Deterministic test events: amounts with cents, several currencies, times over `minutes` windows. */
export function makeEvents(
  n: number,
  opts: { startMs: number; spanMs: number; seed?: number; prefix?: string },
): WireEvent[] {
  const currencies = ['USD', 'EUR', 'JPY', 'GBP'];
  let x = opts.seed ?? 1;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  return Array.from({ length: n }, (_, i) => {
    const currency = currencies[i % currencies.length] as string;
    const cents = 1 + Math.floor(rnd() * 100_000);
    return {
      transaction_id: `${opts.prefix ?? 'TXN'}${String(i).padStart(7, '0')}`,
      amount: currency === 'JPY' ? cents : cents / 100,
      currency,
      merchant: 'Amazon',
      event_timestamp: opts.startMs + Math.floor(rnd() * opts.spanMs),
    };
  });
}
