/**
 * The aggregator's EMF line per invocation: its figures are the invocation's own (the same counts
 * its log line has), late events and output retries counted, rejects split by reason, and nothing
 * but stdout written (no API call: the only clients are the stream and bucket fakes).
 */
import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { createMetrics } from '../../src/lambdas/lib/metrics.js';
import { PREFIXES } from '../../src/pipeline/config.js';
import { type MetricDatum, parseEmf } from '../../src/pipeline/metrics.js';
import { eventSpec, kinesisEvent, wireEvent } from '../factories/kinesis.js';

const kinesisMock = mockClient(KinesisClient);
const s3Mock = mockClient(S3Client);
const T0 = Date.UTC(2024, 0, 15, 10, 30);

let emf: string[];
let logs: Record<string, unknown>[];

function handler(now: () => number) {
  return createAggregatorHandler({
    kinesis: new KinesisClient({ region: 'ap-southeast-2' }),
    s3: new S3Client({ region: 'ap-southeast-2' }),
    outputStreamName: 'out',
    deadLetterBucket: 'b',
    deadLetterPrefix: PREFIXES.deadLetters,
    windowSeconds: 60,
    maxFutureSkewMs: 86_400_000,
    logger: createLogger({ service: 'aggregator', sink: (l) => logs.push(JSON.parse(l)), now }),
    metrics: createMetrics({ environment: 'paypipe-test', sink: (l) => emf.push(l), now }),
    sendOptions: { sleep: async () => {}, random: () => 0.5 },
    now,
  });
}

beforeEach(() => {
  emf = [];
  logs = [];
  kinesisMock.reset();
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({});
});
afterEach(() => {
  kinesisMock.reset();
  s3Mock.reset();
});

const values = (lines: string[]): Map<string, number> => {
  const m = new Map<string, number>();
  for (const d of lines.flatMap(parseEmf)) {
    const k = d.reason === undefined ? d.name : `${d.name}:${d.reason}`;
    m.set(k, (m.get(k) ?? 0) + d.value);
  }
  return m;
};

describe('aggregator metrics', () => {
  it('one EMF line per invocation with its counts, late events, retries and rejects by reason', async () => {
    let call = 0;
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      call++;
      // The first attempt throttles every entry once: each is resent (retries = output records).
      return {
        FailedRecordCount: call === 1 ? (input.Records?.length ?? 0) : 0,
        Records: (input.Records ?? []).map((_, i) =>
          call === 1
            ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' }
            : { SequenceNumber: String(i), ShardId: 'shardId-000000000000' },
        ),
      };
    });
    const arrival = T0 + 5 * 60_000;
    const specs = [
      // On time: its window closed less than one window before arrival.
      eventSpec(wireEvent({ transaction_id: 'A', event_timestamp: arrival - 30_000 }), {
        arrivalMs: arrival,
      }),
      // Late: arrived more than one window after its window (10:30–10:31) closed.
      eventSpec(wireEvent({ transaction_id: 'B', event_timestamp: T0 + 1000 }), { arrivalMs: arrival }),
      eventSpec(wireEvent({ transaction_id: 'C', currency: 'JPY', amount: 10, event_timestamp: T0 + 2000 }), {
        arrivalMs: arrival - 1000,
      }),
      { data: 'not json', partitionKey: 'x', arrivalMs: arrival },
      { data: 'also not json', partitionKey: 'y', arrivalMs: arrival },
      { data: JSON.stringify(wireEvent({ currency: 'XXX1' })), partitionKey: 'z', arrivalMs: arrival },
    ];
    const end = arrival + 2000;
    await handler(() => end)(kinesisEvent(specs));
    const v = values(emf);
    const log = logs.at(-1) as Record<string, number>;
    expect(v.get('RecordsIn')).toBe(log.records_in);
    expect(v.get('RecordsValid')).toBe(3);
    expect(v.get('RecordsRejected')).toBe(3);
    expect(v.get('AggregatesOut')).toBe(log.aggregates_out);
    expect(v.get('Windows')).toBe(log.windows);
    expect(v.get('LateEvents')).toBe(2);
    // Every output record (one batch output here) was resent once.
    expect(v.get('OutputRetries')).toBe(log.output_records);
    expect(v.get('BatchFailures')).toBe(0);
    expect(v.get('Rejected:not_json')).toBe(2);
    expect([...v.keys()].filter((k) => k.startsWith('Rejected:')).length).toBe(2);
    // The oldest record arrived at arrival - 1000; the handler ended at `end`.
    expect(v.get('OldestRecordAge')).toBe(3000);
    expect(v.get('BatchDuration')).toBe(log.duration_ms);
    // One line for the batch, one per reject reason, all with the small dimension sets.
    expect(emf).toHaveLength(3);
    for (const line of emf) {
      const doc = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } };
      for (const dims of doc._aws.CloudWatchMetrics[0]?.Dimensions ?? []) {
        expect(['service', 'environment', 'reason']).toEqual(expect.arrayContaining(dims));
      }
    }
  });

  it('a batch whose output fails counts as a batch failure', async () => {
    kinesisMock.on(PutRecordsCommand).rejects(new Error('boom'));
    await handler(() => T0)(kinesisEvent([eventSpec(wireEvent({ event_timestamp: T0 }))]));
    expect(values(emf).get('BatchFailures')).toBe(1);
  });

  it('an empty event writes a line without a record age (no Infinity)', async () => {
    await handler(() => T0)({ Records: [] });
    const d: MetricDatum[] = emf.flatMap(parseEmf);
    expect(d.find((x) => x.name === 'RecordsIn')?.value).toBe(0);
    expect(d.some((x) => x.name === 'OldestRecordAge')).toBe(false);
  });
});
