/**
 * Aggregator throughput: the real handler (validation, exact-money aggregation, output encoding,
 * sender batching) on a 10,000-record Kinesis event, against the bare minimum any consumer pays:
 * base64-decoding + JSON.parse of the same records. Output clients are trivial in-memory objects
 * (no SDK middleware, no aws-sdk-client-mock), so the figure is the handler's own cost.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { serializeEvent } from '../src/domain/event.js';
import { generateEvents } from '../src/domain/generator.js';
import { createAggregatorHandler } from '../src/lambdas/aggregator-handler.js';
import { createMetrics } from '../src/lambdas/lib/metrics.js';
import { createLogger } from '../src/lambdas/lib/logger.js';
import type { BenchRow } from './types.js';
import { median } from './_util.js';

const RECORDS = 10_000;
const RUNS = 9;
const WARMUP = 3;
const NOW = Date.UTC(2024, 0, 15, 10, 30);

function buildEvent(): KinesisStreamEvent {
  const Records: KinesisStreamEvent['Records'] = [];
  let seq = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;
  for (const r of generateEvents({ seed: 2024, nowMs: NOW, spanMs: 5 * 60_000 })) {
    if (r.kind !== 'event') continue;
    seq += 1_000_000n;
    Records.push({
      awsRegion: 'ap-southeast-2',
      eventID: `shardId-000000000000:${seq}`,
      eventName: 'aws:kinesis:record',
      eventSource: 'aws:kinesis',
      eventSourceARN: 'arn:aws:kinesis:ap-southeast-2:123456789012:stream/paypipe-dev-input-stream',
      eventVersion: '1.0',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/bench',
      kinesis: {
        approximateArrivalTimestamp: (NOW + 1000) / 1000,
        data: Buffer.from(serializeEvent(r.event)).toString('base64'),
        kinesisSchemaVersion: '1.0',
        partitionKey: r.event.transaction_id,
        sequenceNumber: seq.toString(),
      },
    });
    if (Records.length >= RECORDS) break;
  }
  return { Records };
}

/** The cheapest fake that satisfies `client.send(command)`: every entry accepted. */
const fakeKinesis = {
  send: async (cmd: { input: { Records?: unknown[] } }) => ({
    FailedRecordCount: 0,
    Records: (cmd.input.Records ?? []).map((_, i) => ({
      SequenceNumber: String(i),
      ShardId: 'shardId-000000000000',
    })),
  }),
} as unknown as KinesisClient;
const fakeS3 = { send: async () => ({}) } as unknown as S3Client;

async function timeRuns(fn: () => unknown): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(RECORDS / s);
  }
  return median(rates);
}

export async function run(): Promise<BenchRow[]> {
  const event = buildEvent();
  let aggregatesOut = 0;
  const handler = createAggregatorHandler({
    kinesis: fakeKinesis,
    s3: fakeS3,
    outputStreamName: 'bench-output',
    deadLetterBucket: 'bench-bucket',
    deadLetterPrefix: 'dead-letters/',
    windowSeconds: 60,
    maxFutureSkewMs: 86_400_000,
    logger: createLogger({
      service: 'bench',
      sink: (l) => {
        aggregatesOut = (JSON.parse(l) as { aggregates_out: number }).aggregates_out;
      },
    }),
    // The EMF lines are built as in the Lambda (their cost is part of the figure), then dropped.
    metrics: createMetrics({ environment: 'bench', sink: (l) => void l }),
  });
  let sink = 0;
  const baseline = (): void => {
    for (const r of event.Records) {
      const o = JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')) as { amount: number };
      sink += o.amount;
    }
  };
  // Interleave so both see the same machine state (the machine is shared and noisy).
  const paypipe: number[] = [];
  const base: number[] = [];
  for (let round = 0; round < 3; round++) {
    base.push(await timeRuns(baseline));
    paypipe.push(
      await timeRuns(async () => {
        const res = await handler(event);
        if (res.batchItemFailures.length > 0) throw new Error('bench batch failed');
      }),
    );
  }
  const p = median(paypipe);
  const b = median(base);
  const ratio = p / b;
  if (sink === 0 || aggregatesOut === 0) throw new Error('bench did no work');
  return [
    {
      figure: `aggregator handler, ${RECORDS.toLocaleString('en-US')}-record event`,
      paypipe: p,
      baseline: b,
      unit: 'records/s',
      ratio,
      target: '≥ 0.5× base64+JSON.parse',
      met: ratio >= 0.5,
      note: `median of ${RUNS} runs × 3 interleaved rounds after ${WARMUP} warm-ups; ${aggregatesOut} aggregates/run`,
    },
  ];
}
