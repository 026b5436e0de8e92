/**
 * The aggregator Lambda's logic, as a factory so the stack's bundle (aggregator.ts) and the local
 * pipeline share it with different clients.
 *
 * Per invocation (one batch of one shard, but robust to several): validate every record, aggregate
 * the valid ones per (event-time window, currency), put the aggregates on the output stream, and
 * put ALL the batch's bad records into ONE dead-letter object. Bad data never fails the batch.
 * Infrastructure failures fail the WHOLE batch (first sequence number as the batch item failure),
 * never part of it: the retry then sees the same records and emits the same aggregate ids, so the
 * parts of the failed attempt that did get through are deduplicated downstream by id (see
 * src/domain/aggregate.ts and docs/windowing.md).
 */
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';
import { type KinesisClient, type SendOptions, sendRecords } from '../aws/kinesis.js';
import { putObject, type S3Client } from '../aws/s3.js';
import { type Aggregate, BatchAggregator } from '../domain/aggregate.js';
import { type RejectReason, validateRecord } from '../domain/event.js';
import { partitionPrefix } from '../pipeline/partitions.js';
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
}

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

/** Output partition key: all aggregates of one (window, currency) land on the same shard. */
export const aggregatePartitionKey = (a: Aggregate): string => `${a.window_start}|${a.currency}`;

interface ShardOutcome {
  shardId: string;
  recordsIn: number;
  valid: number;
  rejected: Partial<Record<RejectReason, number>>;
  aggregatesOut: number;
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

  const processShard = async (
    shardId: string,
    records: KinesisStreamRecord[],
    log: Logger,
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
    for (const r of records) {
      const arrivalMs = Math.round(r.kinesis.approximateArrivalTimestamp * 1000);
      if (arrivalMs < oldestArrivalMs) oldestArrivalMs = arrivalMs;
      bytesIn += (r.kinesis.data.length * 3) >> 2; // base64 → bytes (within 2 of exact)
      const v = validateRecord(Buffer.from(r.kinesis.data, 'base64'), {
        arrivalMs,
        maxFutureSkewMs: deps.maxFutureSkewMs,
      });
      if (!v.ok) reject(r, v.reason, v.detail, arrivalMs);
      else if (!acc.add(v.event)) {
        reject(
          r,
          'total_overflow',
          'the window total for this currency would exceed 999999999999999 minor units',
          arrivalMs,
        );
      } else {
        valid++;
        if (arrivalMs - v.event.event_timestamp >= 2 * widthMs) late++;
      }
    }
    const aggregates = acc.toAggregates({
      shardId,
      firstSequenceNumber: first.kinesis.sequenceNumber,
      lastSequenceNumber: last.kinesis.sequenceNumber,
    });
    const outcome: ShardOutcome = {
      shardId,
      recordsIn: records.length,
      valid,
      rejected,
      aggregatesOut: aggregates.length,
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
          .then(() => putObject(deps.s3, put))
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
    if (aggregates.length > 0) {
      writes.push(
        sendRecords(
          deps.kinesis,
          deps.outputStreamName,
          aggregates.map((a) => ({
            data: Buffer.from(`${JSON.stringify(a)}\n`),
            partitionKey: aggregatePartitionKey(a),
          })),
          deps.sendOptions,
        ).then(
          (s) => {
            outcome.outputRetries = s.retried;
            if (s.failed > 0) {
              const f = s.failedRecords[0];
              failures.push(
                `${s.failed} of ${aggregates.length} aggregates unsent to ${deps.outputStreamName} after retries (${f?.errorCode}: ${f?.errorMessage})`,
              );
            }
          },
          (e: unknown) => {
            failures.push(`PutRecords to ${deps.outputStreamName} failed: ${describe(e)}`);
          },
        ),
      );
    }
    await Promise.all(writes);
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
    const records = event.Records ?? [];
    // Records of one invoke come from one shard; group anyway, keeping arrival order per shard.
    const byShard = new Map<string, KinesisStreamRecord[]>();
    for (const r of records) {
      const id = shardIdOf(r);
      const list = byShard.get(id);
      if (list === undefined) byShard.set(id, [r]);
      else list.push(r);
    }
    const outcomes = await Promise.all([...byShard].map(([id, rs]) => processShard(id, rs, log)));
    const rejected: Partial<Record<RejectReason, number>> = {};
    let valid = 0;
    let aggregatesOut = 0;
    let windows = 0;
    for (const o of outcomes) {
      valid += o.valid;
      aggregatesOut += o.aggregatesOut;
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

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split('\n', 1)[0]}`;
  return String(e);
}
