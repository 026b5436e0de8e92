/**
 * The aggregator Lambda's logic, as a factory so the stack's bundle (aggregator.ts) and the local
 * pipeline share it with different clients.
 *
 * Per invocation (one batch of one shard, but robust to several): validate every record, aggregate
 * the valid ones per (event-time window, currency), put the batch's ONE batch output record (its
 * shard, sequence range and cells; parts only past 1 MiB, see src/domain/batch-output.ts) on the
 * output stream, and put ALL the batch's bad records into ONE dead-letter object. Bad data never
 * fails the batch. Infrastructure failures fail the WHOLE batch (first sequence number as the batch
 * item failure), never part of it.
 *
 * Exactness does not depend on the retry seeing the same records: whatever a failed or timed-out
 * attempt got out is a complete output (counted only if it fits the shard's chain) or an incomplete
 * one (never counted); the merge rule (src/domain/exact-merge.ts, docs/windowing.md) picks one
 * disjoint chain of complete outputs per shard.
 *
 * Time budget (src/pipeline/time-budget.ts): derived from what Lambda says is left of the function
 * timeout; every SDK call has a timeout, and writes not confirmed by the write deadline fail the
 * batch cleanly, well before the platform's timeout would.
 */
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { type KinesisClient, type SendOptions, sendRecords } from '../aws/kinesis.js';
import { putObject, type S3Client } from '../aws/s3.js';
import { BatchAggregator } from '../domain/aggregate.js';
import { MAX_OUTPUT_RECORD_BYTES, renderBatchOutput } from '../domain/batch-output.js';
import {
  newCompactRecord,
  type RejectReason,
  readCompactRecord,
  validateRecordFull,
} from '../domain/event.js';
import { partitionPrefix } from '../pipeline/partitions.js';
import { timeBudget } from '../pipeline/time-budget.js';
import type { Logger } from './lib/logger.js';
import type { Metrics } from './lib/metrics.js';

export interface AggregatorDeps {
  kinesis: KinesisClient;
  s3: S3Client;
  outputStreamName: string;
  deadLetterBucket: string;
  /** e.g. `dead-letters/` (PREFIXES.deadLetters). */
  deadLetterPrefix: string;
  windowSeconds: number;
  maxFutureSkewMs: number;
  logger: Logger;
  now?: () => number;
  /** Retry knobs for the output puts (tests inject sleep/random). */
  sendOptions?: SendOptions;
  /** EMF metrics (lib/metrics.ts), one line per invocation; none when absent. */
  metrics?: Metrics;
  /** Largest output record (default: Kinesis' 1 MiB less room for the key); tests force parts. */
  maxOutputRecordBytes?: number;
}

/** Records up to this much base64 (48 KiB of bytes) are decoded into the handler's scratch buffer. */
const SCRATCH_BASE64_CHARS = 64 * 1024;

/** The function timeout assumed when no Lambda context says what is left (config's default). */
const DEFAULT_REMAINING_MS = 60_000;

/** One line of a dead-letter object. */
export interface DeadLetter {
  reason: RejectReason;
  detail: string;
  shard_id: string;
  sequence_number: string;
  partition_key: string;
  /** As Kinesis gave it: epoch seconds with millisecond decimals. */
  approximate_arrival_timestamp: number;
  data_base64: string;
}

export type AggregatorHandler = (
  event: KinesisStreamEvent,
  context?: Partial<Context>,
) => Promise<KinesisStreamBatchResponse>;

/**
 * `<prefix>year=…/month=…/day=…/hour=…/<shardId>-<firstBadSeq>.ndjson`, hour of the first bad
 * record's arrival: deterministic, so a retried batch overwrites its own object (idempotent).
 */
export function deadLetterKey(
  prefix: string,
  shardId: string,
  firstBadSequence: string,
  arrivalMs: number,
): string {
  return `${partitionPrefix(prefix, arrivalMs)}${shardId}-${firstBadSequence}.ndjson`;
}

/** `shardId-000000000000:4954…` → `shardId-000000000000`. */
export function shardIdOf(r: KinesisStreamRecord): string {
  const i = r.eventID.indexOf(':');
  if (i > 0) return r.eventID.slice(0, i);
  return r.eventID === '' ? 'shardId-unknown' : r.eventID;
}

/**
 * The records by shard (shardIdOf), arrival order kept within each. Records of one invoke come
 * from one shard, so a record whose eventID starts with the previous record's shard id and a `:`
 * joins that shard's list without a slice or a lookup (10,000 of them per invoke).
 */
export function groupByShard(records: readonly KinesisStreamRecord[]): Map<string, KinesisStreamRecord[]> {
  const byShard = new Map<string, KinesisStreamRecord[]>();
  // The previous shard id, only while it is non-empty and holds no `:` (then it is exactly what
  // shardIdOf cuts from an eventID that starts with it and a `:`).
  let prev = '';
  let prevList: KinesisStreamRecord[] | undefined;
  for (const r of records) {
    const e = r.eventID;
    if (prevList !== undefined && e.charCodeAt(prev.length) === 58 && e.startsWith(prev)) {
      prevList.push(r);
      continue;
    }
    const id = shardIdOf(r);
    let list = byShard.get(id);
    if (list === undefined) {
      list = [r];
      byShard.set(id, list);
    } else list.push(r);
    const cut = id !== '' && id.indexOf(':') === -1;
    prev = cut ? id : '';
    prevList = cut ? list : undefined;
  }
  return byShard;
}

interface ShardOutcome {
  shardId: string;
  recordsIn: number;
  valid: number;
  rejected: Partial<Record<RejectReason, number>>;
  aggregatesOut: number;
  /** Output records written for the batch: 1, or its parts. */
  outputParts: number;
  windows: number;
  // metrics
  late: number;
  bytesIn: number;
  outputRetries: number;
  oldestArrivalMs: number;
  deadLetterKey?: string;
  /** Set when this shard's batch must be retried. */
  failure?: { firstSequenceNumber: string; error: string };
}

export function createAggregatorHandler(deps: AggregatorDeps): AggregatorHandler {
  const widthMs = deps.windowSeconds * 1000;
  if (!Number.isInteger(widthMs) || widthMs <= 0) {
    throw new RangeError(`windowSeconds must be a positive whole number, got ${deps.windowSeconds}`);
  }
  const now = deps.now ?? Date.now;
  // Per handler, reused record after record: shards of one invoke are processed one after another
  // up to the first await (the loop below has none), so no two loops share them at once.
  const scratch = Buffer.allocUnsafe((SCRATCH_BASE64_CHARS * 3) >> 2);
  const compact = newCompactRecord();

  const processShard = async (
    shardId: string,
    records: KinesisStreamRecord[],
    log: Logger,
    budget: Budget,
  ): Promise<ShardOutcome> => {
    const first = records[0] as KinesisStreamRecord;
    const last = records[records.length - 1] as KinesisStreamRecord;
    const acc = new BatchAggregator(widthMs);
    const bad: DeadLetter[] = [];
    let firstBadArrivalMs = 0;
    const rejected: Partial<Record<RejectReason, number>> = {};
    const reject = (
      r: KinesisStreamRecord,
      reason: RejectReason,
      detail: string,
      arrivalMs: number,
    ): void => {
      if (bad.length === 0) firstBadArrivalMs = arrivalMs;
      rejected[reason] = (rejected[reason] ?? 0) + 1;
      bad.push({
        reason,
        detail,
        shard_id: shardId,
        sequence_number: r.kinesis.sequenceNumber,
        partition_key: r.kinesis.partitionKey,
        approximate_arrival_timestamp: r.kinesis.approximateArrivalTimestamp,
        data_base64: r.kinesis.data,
      });
    };
    let valid = 0;
    // metrics: late = arrived more than one window after its window closed
    let late = 0;
    let bytesIn = 0;
    let oldestArrivalMs = Number.POSITIVE_INFINITY;
    const skewMs = deps.maxFutureSkewMs;
    for (const r of records) {
      const arrivalMs = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
      if (arrivalMs < oldestArrivalMs) oldestArrivalMs = arrivalMs;
      const data = r.kinesis.data;
      bytesIn += (data.length * 3) >> 2; // base64 → bytes (within 2 of exact)
      // Decoded into one reused buffer (no Buffer per record): the bytes Buffer.from would give.
      let bytes: Uint8Array;
      let n: number;
      if (data.length <= SCRATCH_BASE64_CHARS) {
        n = scratch.write(data, 0, scratch.length, 'base64');
        bytes = scratch;
      } else {
        bytes = Buffer.from(data, 'base64');
        n = bytes.byteLength;
      }
      let timestamp: number;
      let added: boolean;
      // The usual compact record: read in one pass into `compact`, no objects, no strings.
      if (readCompactRecord(bytes, n, arrivalMs, skewMs, compact)) {
        timestamp = compact.event_timestamp;
        added = acc.addAmount(timestamp, compact.currency, compact.amountMinor);
      } else {
        // Anything else: the full validation decides (and words the reason).
        const v = validateRecordFull(bytes === scratch ? scratch.subarray(0, n) : bytes, {
          arrivalMs,
          maxFutureSkewMs: skewMs,
        });
        if (!v.ok) {
          reject(r, v.reason, v.detail, arrivalMs);
          continue;
        }
        timestamp = v.event.event_timestamp;
        added = acc.add(v.event);
      }
      if (!added) {
        reject(
          r,
          'total_overflow',
          'the window total for this currency would exceed 999999999999999 minor units',
          arrivalMs,
        );
      } else {
        valid++;
        if (arrivalMs - timestamp >= 2 * widthMs) late++;
      }
    }
    const cells = acc.cells();
    // Always written, even with no valid record: the output says this range was processed.
    const output = renderBatchOutput(
      {
        shardId,
        firstSequenceNumber: first.kinesis.sequenceNumber,
        lastSequenceNumber: last.kinesis.sequenceNumber,
      },
      records.length,
      cells,
      widthMs,
      deps.maxOutputRecordBytes ?? MAX_OUTPUT_RECORD_BYTES,
    );
    const outcome: ShardOutcome = {
      shardId,
      recordsIn: records.length,
      valid,
      rejected,
      aggregatesOut: cells.length,
      outputParts: output.length,
      windows: acc.windows,
      late,
      bytesIn,
      outputRetries: 0,
      oldestArrivalMs,
    };
    const failures: string[] = [];
    const writes: Promise<void>[] = [];
    if (bad.length > 0) {
      const key = deadLetterKey(
        deps.deadLetterPrefix,
        shardId,
        (bad[0] as DeadLetter).sequence_number,
        firstBadArrivalMs,
      );
      outcome.deadLetterKey = key;
      let body = '';
      for (const d of bad) body += `${JSON.stringify(d)}\n`;
      const put = {
        bucket: deps.deadLetterBucket,
        key,
        body,
        contentType: 'application/x-ndjson',
      };
      writes.push(
        // Promise.resolve().then: a synchronous throw from the client becomes a recorded failure too.
        Promise.resolve()
          .then(() => putObject(deps.s3, { ...put, signal: budget.callSignal() }))
          .then(
            () => undefined,
            (e: unknown) => {
              failures.push(
                `dead-letter PutObject s3://${deps.deadLetterBucket}/${key} failed: ${describe(e)}`,
              );
            },
          ),
      );
    }
    writes.push(
      sendRecords(
        deps.kinesis,
        deps.outputStreamName,
        // Partition key: the input shard, so one shard's outputs stay in order on one output shard.
        output.map((line) => ({ data: Buffer.from(line), partitionKey: shardId })),
        { ...deps.sendOptions, signal: budget.deadline, attemptTimeoutMs: budget.attemptTimeoutMs },
      ).then(
        (s) => {
          outcome.outputRetries = s.retried;
          if (s.failed > 0) {
            const f = s.failedRecords[0];
            failures.push(
              `${s.failed} of ${output.length} batch output record(s) unsent to ${deps.outputStreamName} (${f?.errorCode}: ${f?.errorMessage})`,
            );
          }
        },
        (e: unknown) => {
          failures.push(`PutRecords to ${deps.outputStreamName} failed: ${describe(e)}`);
        },
      ),
    );
    // Every call is aborted at the deadline; the race is a backstop for one that ignores its signal.
    const done = await Promise.race([Promise.all(writes).then(() => true), budget.expired.then(() => false)]);
    if (!done) {
      failures.push(`writes not confirmed within the time budget (${budget.writeDeadlineMs} ms)`);
    }
    if (failures.length > 0) {
      outcome.failure = { firstSequenceNumber: first.kinesis.sequenceNumber, error: failures.join('; ') };
      log.error('batch failed, will be retried from its first record', {
        shard: shardId,
        first_sequence_number: first.kinesis.sequenceNumber,
        error: outcome.failure.error,
      });
    }
    return outcome;
  };

  return async (event, context) => {
    const started = now();
    const log = deps.logger.withContext(context);
    const budget = startBudget(context?.getRemainingTimeInMillis?.() ?? DEFAULT_REMAINING_MS);
    const records = event.Records ?? [];
    const byShard = groupByShard(records);
    let outcomes: ShardOutcome[];
    try {
      outcomes = await Promise.all([...byShard].map(([id, rs]) => processShard(id, rs, log, budget)));
    } finally {
      budget.stop();
    }
    const rejected: Partial<Record<RejectReason, number>> = {};
    let valid = 0;
    let aggregatesOut = 0;
    let outputParts = 0;
    let windows = 0;
    for (const o of outcomes) {
      valid += o.valid;
      aggregatesOut += o.aggregatesOut;
      outputParts += o.outputParts;
      windows += o.windows;
      for (const [k, n] of Object.entries(o.rejected)) {
        rejected[k as RejectReason] = (rejected[k as RejectReason] ?? 0) + (n as number);
      }
    }
    const failed = outcomes.filter((o) => o.failure !== undefined);
    const fields: Record<string, unknown> = {
      records_in: records.length,
      valid,
      rejected: records.length - valid,
      rejected_by_reason: rejected,
      aggregates_out: aggregatesOut,
      output_records: outputParts,
      windows,
      duration_ms: now() - started,
      shard: outcomes.length === 1 ? outcomes[0]?.shardId : outcomes.map((o) => o.shardId),
    };
    const dl = outcomes.flatMap((o) => (o.deadLetterKey === undefined ? [] : [o.deadLetterKey]));
    if (dl.length > 0) fields.dead_letter_keys = dl;
    if (failed.length > 0) fields.failed_shards = failed.map((o) => o.shardId);
    if (failed.length > 0) log.warn('aggregated batch (retry requested)', fields);
    else log.info('aggregated batch', fields);
    if (deps.metrics !== undefined) emitMetrics(deps.metrics, outcomes, fields, rejected, now());
    return {
      batchItemFailures: failed.map((o) => ({
        itemIdentifier: (o.failure as { firstSequenceNumber: string }).firstSequenceNumber,
      })),
    };
  };
}

// metrics: one EMF line per invocation (plus one per reject reason), from figures already at hand.
function emitMetrics(
  metrics: Metrics,
  outcomes: readonly ShardOutcome[],
  fields: Record<string, unknown>,
  rejected: Partial<Record<RejectReason, number>>,
  endedMs: number,
): void {
  let late = 0;
  let bytesIn = 0;
  let outputRetries = 0;
  let oldest = Number.POSITIVE_INFINITY;
  for (const o of outcomes) {
    late += o.late;
    bytesIn += o.bytesIn;
    outputRetries += o.outputRetries;
    if (o.oldestArrivalMs < oldest) oldest = o.oldestArrivalMs;
  }
  const durationMs = fields.duration_ms as number;
  metrics.aggregatorBatch(
    {
      RecordsIn: fields.records_in as number,
      BytesIn: bytesIn,
      RecordsValid: fields.valid as number,
      RecordsRejected: fields.rejected as number,
      AggregatesOut: fields.aggregates_out as number,
      Windows: fields.windows as number,
      LateEvents: late,
      OutputRetries: outputRetries,
      BatchFailures: outcomes.some((o) => o.failure !== undefined) ? 1 : 0,
      BatchDuration: durationMs,
      // Infinity (an empty event) is left out of the line.
      OldestRecordAge: Number.isFinite(oldest) ? Math.max(0, endedMs - oldest) : Number.NaN,
    },
    rejected,
  );
}

interface Budget {
  writeDeadlineMs: number;
  attemptTimeoutMs: number;
  /** Aborted at the write deadline. */
  deadline: AbortSignal;
  /** Resolves at the write deadline (plus a little grace for calls to notice their abort). */
  expired: Promise<void>;
  /** For one SDK call: aborted at the deadline or after attemptTimeoutMs, whichever comes first. */
  callSignal(): AbortSignal;
  stop(): void;
}

function startBudget(remainingMs: number): Budget {
  const b = timeBudget(remainingMs);
  const deadline = new AbortController();
  let expire: () => void = () => {};
  const expired = new Promise<void>((r) => {
    expire = r;
  });
  const grace = Math.min(500, Math.max(0, Math.floor((remainingMs - b.writeDeadlineMs) / 4)));
  const t1 = setTimeout(() => deadline.abort(new Error('time budget exceeded')), b.writeDeadlineMs);
  const t2 = setTimeout(expire, b.writeDeadlineMs + grace);
  return {
    ...b,
    deadline: deadline.signal,
    expired,
    callSignal: () => AbortSignal.any([deadline.signal, AbortSignal.timeout(b.attemptTimeoutMs)]),
    stop: () => {
      clearTimeout(t1);
      clearTimeout(t2);
    },
  };
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split('\n', 1)[0]}`;
  return String(e);
}
