/**
 * `paypipe redrive`: replays the batches the aggregator gave up on.
 *
 * Each failure record (SQS message on AWS, a line of failed-batches.ndjson locally) names a shard, a
 * sequence range, its size and the arrival times. The batch is read back from the input stream —
 * exactly that range, or not at all — and handed to the aggregator's own handler
 * (createAggregatorHandler, the code the Lambda runs) as the Kinesis event Lambda would have built.
 * The handler writes one batch output for exactly that shard and range, the same one however many
 * times the batch is replayed; the merge rule (docs/windowing.md) counts it once, and counts nothing
 * of the failed attempts that overlaps it. A batch the stream no longer holds is reported with the
 * raw archive prefixes its records are under.
 */
import { readBatch } from '../../aws/failed-batches.js';
import type { KinesisClient, StreamRecord } from '../../aws/kinesis.js';
import type { S3Client } from '../../aws/s3.js';
import type { QueuedMessage, SQSClient } from '../../aws/sqs.js';
import { PaypipeError } from '../../errors.js';
import type { FailedBatchRecord } from '../../local/failed-batches.js';
import { hourPrefixes } from '../../pipeline/partitions.js';
import { PREFIXES } from '../../pipeline/config.js';
import type { Io, Style } from '../io.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import type { RedriveFlags } from './flags.js';

export type BatchStatus =
  /** Read back whole and processed by the aggregator. */
  | 'replayed'
  /** --dry-run: the stream holds the whole batch; it would be replayed. */
  | 'would-replay'
  /** The stream no longer holds it (retention); see `archive`. */
  | 'past-retention'
  /** The stream answers differently from the failure record (wrong stream, resharded, …). */
  | 'mismatch'
  /** Read back, but the aggregator failed again (the output side is still down?). */
  | 'failed'
  /** The failure record itself cannot be read. */
  | 'unreadable';

export interface BatchReport {
  /** The failed invocation's request id (SQS message id when the body has none). */
  id: string;
  status: BatchStatus;
  condition: string;
  failedAt: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  batchSize: number;
  firstArrival: string;
  lastArrival: string;
  /** Aggregates the replay put on the output stream; records it dead-lettered. */
  aggregatesOut?: number;
  deadLettered?: number;
  detail?: string;
  /** Where the raw copies of a batch past retention are (the raw Firehose's arrival-hour prefixes). */
  archive?: { bucket: string; prefixes: string[] };
}

export interface RedriveResult {
  target: 'aws' | 'local';
  dryRun: boolean;
  stream: string;
  retentionHours: number;
  /** Where the failed batches came from: the SQS queue URL, or the local file. */
  source: string;
  batches: BatchReport[];
  counts: Record<BatchStatus, number> & { records: number; aggregatesOut: number };
}

/** What a store of failed batches must do: list them, and settle each after its replay. */
interface FailureStore {
  source: string;
  list(): Promise<Array<{ record: FailedBatchRecord | undefined; id: string; raw?: QueuedMessage }>>;
  replayed(
    item: { id: string; raw?: QueuedMessage },
    outcome: { records: number; aggregatesOut: number },
  ): Promise<void>;
  /** Called once at the end: hand back what was not replayed (SQS visibility). */
  finish(notReplayed: Array<{ raw?: QueuedMessage }>): Promise<void>;
}

export interface RedriveDeps {
  now?: () => number;
  /** Tests: how the handler's clients are built (default: from the target). */
  clients?: { kinesis: KinesisClient; s3: S3Client; sqs?: SQSClient };
}

/** The shape Lambda gives an on-failure record; anything else is reported as unreadable. */
export function parseFailureRecord(body: string): FailedBatchRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  const r = v as Partial<FailedBatchRecord> | null;
  const i = r?.KinesisBatchInfo;
  const seq = /^\d{1,128}$/;
  if (
    i === undefined ||
    typeof i.shardId !== 'string' ||
    !/^shardId-\d{1,20}$/.test(i.shardId) ||
    typeof i.startSequenceNumber !== 'string' ||
    !seq.test(i.startSequenceNumber) ||
    typeof i.endSequenceNumber !== 'string' ||
    !seq.test(i.endSequenceNumber) ||
    BigInt(i.startSequenceNumber) > BigInt(i.endSequenceNumber) ||
    !Number.isSafeInteger(i.batchSize) ||
    i.batchSize < 1 ||
    i.batchSize > 10_000 ||
    Number.isNaN(Date.parse(i.approximateArrivalOfFirstRecord ?? '')) ||
    Number.isNaN(Date.parse(i.approximateArrivalOfLastRecord ?? ''))
  ) {
    return undefined;
  }
  return r as FailedBatchRecord;
}

async function localStore(dataDir: string): Promise<FailureStore> {
  const { appendRedriven, pendingFailedBatches } = await import('../../local/failed-batches.js');
  const { localPaths } = await import('../../local/files.js');
  return {
    source: localPaths(dataDir).failedBatches,
    list: async () =>
      (await pendingFailedBatches(dataDir)).map((b) => ({
        // The file is the pipeline's own; its lines are checked like an SQS body all the same.
        record: parseFailureRecord(JSON.stringify(b)),
        id: b.requestContext?.requestId ?? '?',
      })),
    replayed: async (item, outcome) => {
      appendRedriven(dataDir, { requestId: item.id, redrivenAt: new Date().toISOString(), ...outcome });
    },
    finish: async () => {},
  };
}

async function sqsStore(sqs: SQSClient, queueUrl: string, dryRun: boolean): Promise<FailureStore> {
  const { deleteMessage, receiveAllMessages, releaseMessages } = await import('../../aws/sqs.js');
  return {
    source: queueUrl,
    list: async () =>
      // Hidden from other consumers while we work (15 min covers a few thousand replays).
      (await receiveAllMessages(sqs, queueUrl, dryRun ? 60 : 900)).map((m) => {
        const record = parseFailureRecord(m.body);
        return { record, id: record?.requestContext?.requestId ?? m.messageId, raw: m };
      }),
    replayed: async (item) => {
      if (item.raw !== undefined) await deleteMessage(sqs, queueUrl, item.raw.receiptHandle);
    },
    finish: async (rest) => {
      const raw = rest.flatMap((x) => (x.raw === undefined ? [] : [x.raw]));
      if (raw.length > 0) await releaseMessages(sqs, queueUrl, raw);
    },
  };
}

/** Counts the aggregator reports in its "aggregated batch" log line. */
function captureOutcome(): { sink: (line: string) => void; last: () => Record<string, unknown> | undefined } {
  let last: Record<string, unknown> | undefined;
  return {
    sink: (line) => {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (typeof o.message === 'string' && o.message.startsWith('aggregated batch')) last = o;
        if (o.level === 'ERROR') last = { ...last, error: o.error };
      } catch {
        // not JSON: nothing to count
      }
    },
    last: () => last,
  };
}

export async function runRedrive(
  flags: RedriveFlags,
  io: Io,
  deps: RedriveDeps = {},
): Promise<RedriveResult> {
  const dryRun = flags.dryRun === true;
  const now = deps.now ?? Date.now;
  const target: ResolvedTarget = await resolveTarget(flags, {
    need: ['inputStream', 'outputStream', 'analyticsBucket', 'rawBucket'],
  });
  const config = target.config;
  const names = target.names;
  const { kinesisClient, s3Client, awsOnlyClients } = await import('../../aws/clients.js');
  const kinesis = deps.clients?.kinesis ?? (await kinesisClient(target.clientTarget));
  const s3 = deps.clients?.s3 ?? (await s3Client(target.clientTarget));
  const owned: Array<{ destroy(): void }> = deps.clients === undefined ? [kinesis, s3] : [];

  let store: FailureStore;
  if (target.kind === 'local') {
    store = await localStore(target.dataDir);
  } else {
    const queueUrl = names.failureQueueUrl;
    if (queueUrl === undefined || queueUrl === '') {
      throw new PaypipeError('STACK_INCOMPLETE', `stack ${target.stackName} has no FailureQueueUrl output`, {
        hint: 'run `paypipe deploy` to update the stack',
      });
    }
    let sqs = deps.clients?.sqs;
    if (sqs === undefined) {
      sqs = await (await awsOnlyClients(target.clientTarget)).sqs();
      owned.push(sqs);
    }
    store = await sqsStore(sqs, queueUrl, dryRun);
  }

  const { describeStreamSummary, missingStream } = await import('../../aws/kinesis.js');
  const { createAggregatorHandler } = await import('../../lambdas/aggregator-handler.js');
  const { createLogger } = await import('../../lambdas/lib/logger.js');
  const { kinesisEvent } = await import('../../lambdas/lib/kinesis-event.js');

  try {
    const stream = names.inputStream;
    const summary = await describeStreamSummary(kinesis, stream);
    if (summary === undefined) throw missingStream(stream, 'DescribeStreamSummary');
    const retentionHours = summary.retentionHours ?? 24;
    io.info(`Reading failed batches from ${store.source}…`);
    const items = await store.list();
    const reports: BatchReport[] = [];
    const notReplayed: Array<{ raw?: QueuedMessage }> = [];
    const ordered = [...items].sort((a, b) =>
      (a.record?.timestamp ?? '').localeCompare(b.record?.timestamp ?? ''),
    );
    for (const item of ordered) {
      const r = item.record;
      if (r === undefined) {
        reports.push({
          id: item.id,
          status: 'unreadable',
          condition: '',
          failedAt: '',
          shardId: '',
          startSequenceNumber: '',
          endSequenceNumber: '',
          batchSize: 0,
          firstArrival: '',
          lastArrival: '',
          detail: 'not a Lambda on-failure record for a Kinesis batch',
        });
        notReplayed.push(item);
        continue;
      }
      const info = r.KinesisBatchInfo;
      const base = {
        id: item.id,
        condition: r.requestContext?.condition ?? '',
        failedAt: r.timestamp ?? '',
        shardId: info.shardId,
        startSequenceNumber: info.startSequenceNumber,
        endSequenceNumber: info.endSequenceNumber,
        batchSize: info.batchSize,
        firstArrival: info.approximateArrivalOfFirstRecord,
        lastArrival: info.approximateArrivalOfLastRecord,
      };
      const firstMs = Date.parse(info.approximateArrivalOfFirstRecord);
      const lastMs = Date.parse(info.approximateArrivalOfLastRecord);
      const archive = {
        bucket: names.rawBucket,
        // Firehose partitions by the time it read the record, at or a little after its arrival.
        prefixes: hourPrefixes(PREFIXES.raw, firstMs, lastMs + 3_600_000),
      };
      const pastRetention = (detail: string): BatchReport => ({
        ...base,
        status: 'past-retention',
        detail,
        archive,
      });
      if (now() - firstMs >= retentionHours * 3_600_000) {
        reports.push(
          pastRetention(
            `arrived ${info.approximateArrivalOfFirstRecord}, more than the stream's ${retentionHours} h retention ago`,
          ),
        );
        notReplayed.push(item);
        continue;
      }
      io.info(
        `${dryRun ? 'Checking' : 'Replaying'} ${info.batchSize} records of ${info.shardId} (${item.id})…`,
      );
      const read = await readBatch(kinesis, stream, {
        shardId: info.shardId,
        first: info.startSequenceNumber,
        last: info.endSequenceNumber,
        count: info.batchSize,
      });
      if (read.kind === 'gone') {
        reports.push(pastRetention(read.detail));
        notReplayed.push(item);
        continue;
      }
      if (read.kind === 'mismatch') {
        reports.push({ ...base, status: 'mismatch', detail: read.detail });
        notReplayed.push(item);
        continue;
      }
      if (dryRun) {
        reports.push({ ...base, status: 'would-replay' });
        notReplayed.push(item);
        continue;
      }
      const outcome = await replay(read.records, r, item.id);
      if (outcome.ok) {
        await store.replayed(item, { records: read.records.length, aggregatesOut: outcome.aggregatesOut });
        reports.push({
          ...base,
          status: 'replayed',
          aggregatesOut: outcome.aggregatesOut,
          deadLettered: outcome.deadLettered,
        });
      } else {
        reports.push({ ...base, status: 'failed', detail: outcome.detail });
        notReplayed.push(item);
      }
    }
    await store.finish(notReplayed);
    return {
      target: target.kind,
      dryRun,
      stream,
      retentionHours,
      source: store.source,
      batches: reports,
      counts: count(reports),
    };
  } finally {
    for (const c of owned) c.destroy();
  }

  /** One batch through a fresh aggregator handler (as a fresh Lambda execution environment). */
  async function replay(
    records: StreamRecord[],
    r: FailedBatchRecord,
    id: string,
  ): Promise<{ ok: true; aggregatesOut: number; deadLettered: number } | { ok: false; detail: string }> {
    const captured = captureOutcome();
    const handler = createAggregatorHandler({
      kinesis,
      s3,
      outputStreamName: names.outputStream,
      deadLetterBucket: names.analyticsBucket,
      deadLetterPrefix: config.aggregator.deadLetterPrefix,
      windowSeconds: config.aggregator.windowSeconds,
      maxFutureSkewMs: config.aggregator.maxFutureSkewMs,
      logger: createLogger({
        service: 'paypipe-redrive',
        sink: (line) => {
          captured.sink(line);
          io.debugLog(line);
        },
      }),
    });
    const event = kinesisEvent(records, {
      region: target.region,
      streamArn: r.KinesisBatchInfo.streamArn,
      invokeIdentityArn: r.requestContext?.functionArn ?? '',
    });
    try {
      const res = await handler(event, { awsRequestId: `redrive-${id}` });
      const fields = captured.last() ?? {};
      if ((res.batchItemFailures ?? []).length > 0) {
        return { ok: false, detail: `the aggregator failed again: ${String(fields.error ?? 'see --debug')}` };
      }
      return {
        ok: true,
        aggregatesOut: Number(fields.aggregates_out ?? 0),
        deadLettered: Number(fields.rejected ?? 0),
      };
    } catch (e) {
      return {
        ok: false,
        detail: `the aggregator threw: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      };
    }
  }
}

function count(reports: readonly BatchReport[]): RedriveResult['counts'] {
  const c: RedriveResult['counts'] = {
    replayed: 0,
    'would-replay': 0,
    'past-retention': 0,
    mismatch: 0,
    failed: 0,
    unreadable: 0,
    records: 0,
    aggregatesOut: 0,
  };
  for (const r of reports) {
    c[r.status]++;
    if (r.status === 'replayed' || r.status === 'would-replay') c.records += r.batchSize;
    c.aggregatesOut += r.aggregatesOut ?? 0;
  }
  return c;
}

/** Exit 1 when a real run left batches behind (a dry run only reports). */
export function failedRedriveError(r: RedriveResult): PaypipeError | undefined {
  if (r.dryRun) return undefined;
  const left = r.batches.filter((b) => b.status !== 'replayed');
  if (left.length === 0) return undefined;
  const gone = left.filter((b) => b.status === 'past-retention').length;
  return new PaypipeError(
    'CHECK_FAILED',
    `${left.length} of ${r.batches.length} failed batches were not replayed${gone > 0 ? ` (${gone} past the stream's retention)` : ''}`,
    {
      hint:
        gone > 0
          ? 'reconcile those from the raw archive prefixes listed above; run redrive again for the others once their cause is fixed'
          : 'fix the cause shown for each batch (e.g. the output stream) and run redrive again',
      details: { notReplayed: left.map((b) => ({ id: b.id, status: b.status })) },
    },
  );
}

export function renderRedrive(r: RedriveResult, s: Style): string {
  const c = r.counts;
  const lines: string[] = [];
  if (r.batches.length === 0) {
    return `No failed batches to replay (${r.source})`;
  }
  const head = r.dryRun
    ? `Dry run: ${c['would-replay']} of ${r.batches.length} failed batches can be replayed (${c.records.toLocaleString('en-US')} records)`
    : `Replayed ${c.replayed} of ${r.batches.length} failed batches (${c.records.toLocaleString('en-US')} records, ${c.aggregatesOut.toLocaleString('en-US')} aggregates)`;
  lines.push(s.bold(head), s.dim(`  from ${r.source}; ${r.stream} keeps records ${r.retentionHours} h`));
  for (const b of r.batches) {
    const mark =
      b.status === 'replayed' || b.status === 'would-replay'
        ? s.green(b.status.padEnd(14))
        : b.status === 'past-retention'
          ? s.yellow(b.status.padEnd(14))
          : s.red(b.status.padEnd(14));
    lines.push(
      `  ${mark} ${b.shardId} ${b.batchSize} records ${b.startSequenceNumber.slice(-10)}…${b.endSequenceNumber.slice(-10)}  ${s.dim(`${b.condition} ${b.failedAt}`)}`,
    );
    if (b.detail !== undefined) lines.push(`      ${b.detail}`);
    if (b.archive !== undefined) {
      lines.push(
        `      raw copies: ${b.archive.prefixes.map((p) => `s3://${b.archive?.bucket}/${p}`).join(' ')}`,
      );
    }
  }
  return lines.join('\n');
}
