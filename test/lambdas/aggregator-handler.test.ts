import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Aggregate, aggregateId, mergeAggregates } from '../../src/domain/aggregate.js';
import { PREFIXES } from '../../src/pipeline/config.js';
import { createAggregatorHandler, type DeadLetter } from '../../src/lambdas/aggregator-handler.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { eventSpec, kinesisEvent, type RecordSpec, shardName, wireEvent } from '../factories/kinesis.js';

const kinesisMock = mockClient(KinesisClient);
const s3Mock = mockClient(S3Client);
const T0 = Date.UTC(2024, 0, 15, 10, 30);

/** Output records the fake stream accepted (only entries whose result had no ErrorCode). */
let accepted: Aggregate[];
let logLines: Record<string, unknown>[];
let s3Puts: PutObjectCommandInput[];

function handler(now?: () => number) {
  return createAggregatorHandler({
    kinesis: new KinesisClient({ region: 'ap-southeast-2' }),
    s3: new S3Client({ region: 'ap-southeast-2' }),
    outputStreamName: 'paypipe-dev-output-stream',
    deadLetterBucket: 'paypipe-dev-analytics-results',
    deadLetterPrefix: PREFIXES.deadLetters,
    windowSeconds: 60,
    maxFutureSkewMs: 86_400_000,
    logger: createLogger({
      service: 'paypipe-aggregator',
      sink: (l) => logLines.push(JSON.parse(l)),
      now: () => T0,
    }),
    sendOptions: { sleep: async () => {}, random: () => 0.5 },
    ...(now === undefined ? {} : { now }),
  });
}

const decode = (input: PutRecordsCommandInput, i: number): Aggregate =>
  JSON.parse(Buffer.from(input.Records?.[i]?.Data as Uint8Array).toString('utf8'));

/** A PutRecords fake: `fail(callNo, index)` decides per entry whether to return an ErrorCode. */
function fakeStream(
  fail: (call: number, index: number, agg: Aggregate) => string | undefined = () => undefined,
) {
  let call = 0;
  kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
    call++;
    const records = (input.Records ?? []).map((_, i) => {
      const code = fail(call, i, decode(input, i));
      if (code !== undefined) return { ErrorCode: code, ErrorMessage: `${code} (fake)` };
      accepted.push(decode(input, i));
      return { SequenceNumber: `${call}-${i}`, ShardId: 'shardId-000000000000' };
    });
    return { FailedRecordCount: records.filter((r) => 'ErrorCode' in r).length, Records: records };
  });
}

beforeEach(() => {
  kinesisMock.reset();
  s3Mock.reset();
  accepted = [];
  logLines = [];
  s3Puts = [];
  s3Mock.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
    s3Puts.push(input);
    return {};
  });
});
afterEach(() => {
  kinesisMock.reset();
  s3Mock.reset();
});

/** 3 windows × 2 currencies on one shard, plus two bad records. */
function mixedBatch(shard = shardName(0)): RecordSpec[] {
  const good = [
    wireEvent({ transaction_id: 'TXN1', amount: 10.1, event_timestamp: T0 + 1000 }),
    wireEvent({ transaction_id: 'TXN2', amount: 0.2, event_timestamp: T0 + 2000 }),
    wireEvent({ transaction_id: 'TXN3', amount: 1500, currency: 'JPY', event_timestamp: T0 + 3000 }),
    wireEvent({ transaction_id: 'TXN4', amount: 99.99, event_timestamp: T0 + 61_000 }),
    wireEvent({ transaction_id: 'TXN5', amount: 5, currency: 'JPY', event_timestamp: T0 + 125_000 }),
  ];
  return [
    eventSpec(good[0]!, { shardId: shard }),
    { data: 'not json at all', shardId: shard, partitionKey: 'junk', arrivalMs: T0 + 1500 },
    eventSpec(good[1]!, { shardId: shard }),
    eventSpec(good[2]!, { shardId: shard }),
    { data: JSON.stringify(wireEvent({ amount: 1.005 })), shardId: shard, arrivalMs: T0 + 2500 },
    eventSpec(good[3]!, { shardId: shard }),
    eventSpec(good[4]!, { shardId: shard }),
  ];
}

describe('aggregator handler', () => {
  it('aggregates valid records per (window, currency), dead-letters the bad ones, logs one line', async () => {
    fakeStream();
    let t = 1000;
    const event = kinesisEvent(mixedBatch());
    const res = await handler(() => (t += 7))(event, {
      awsRequestId: 'req-1',
      functionName: 'paypipe-dev-aggregator',
    });
    expect(res).toEqual({ batchItemFailures: [] });

    const rows = accepted.map(({ id, ...r }) => r);
    expect(rows).toEqual([
      {
        window_start: '2024-01-15T10:30:00.000Z',
        window_end: '2024-01-15T10:31:00.000Z',
        currency: 'JPY',
        transaction_count: 1,
        total_amount: 1500,
        avg_amount: 1500,
        min_amount: 1500,
        max_amount: 1500,
      },
      {
        window_start: '2024-01-15T10:30:00.000Z',
        window_end: '2024-01-15T10:31:00.000Z',
        currency: 'USD',
        transaction_count: 2,
        total_amount: 10.3,
        avg_amount: 5.15,
        min_amount: 0.2,
        max_amount: 10.1,
      },
      {
        window_start: '2024-01-15T10:31:00.000Z',
        window_end: '2024-01-15T10:32:00.000Z',
        currency: 'USD',
        transaction_count: 1,
        total_amount: 99.99,
        avg_amount: 99.99,
        min_amount: 99.99,
        max_amount: 99.99,
      },
      {
        window_start: '2024-01-15T10:32:00.000Z',
        window_end: '2024-01-15T10:33:00.000Z',
        currency: 'JPY',
        transaction_count: 1,
        total_amount: 5,
        avg_amount: 5,
        min_amount: 5,
        max_amount: 5,
      },
    ]);
    // Partition key = window + currency; data is one NDJSON line.
    const input = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input as PutRecordsCommandInput;
    expect(input.StreamName).toBe('paypipe-dev-output-stream');
    expect(input.Records?.map((r) => r.PartitionKey)).toEqual([
      '2024-01-15T10:30:00.000Z|JPY',
      '2024-01-15T10:30:00.000Z|USD',
      '2024-01-15T10:31:00.000Z|USD',
      '2024-01-15T10:32:00.000Z|JPY',
    ]);
    expect(
      Buffer.from(input.Records?.[0]?.Data as Uint8Array)
        .toString()
        .endsWith('}\n'),
    ).toBe(true);

    // One dead-letter object with both bad records, key from the first bad record.
    expect(s3Puts).toHaveLength(1);
    const put = s3Puts[0] as PutObjectCommandInput;
    const badSeq = event.Records[1]?.kinesis.sequenceNumber;
    expect(put.Bucket).toBe('paypipe-dev-analytics-results');
    expect(put.Key).toBe(
      `dead-letters/year=2024/month=01/day=15/hour=10/shardId-000000000000-${badSeq}.ndjson`,
    );
    const lines = String(put.Body)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as DeadLetter);
    expect(lines.map((l) => [l.reason, l.sequence_number])).toEqual([
      ['not_json', badSeq],
      ['amount_too_precise', event.Records[4]?.kinesis.sequenceNumber],
    ]);
    expect(lines[0]).toMatchObject({
      shard_id: 'shardId-000000000000',
      partition_key: 'junk',
      approximate_arrival_timestamp: (T0 + 1500) / 1000,
      data_base64: Buffer.from('not json at all').toString('base64'),
    });
    expect(Buffer.from(lines[1]?.data_base64 as string, 'base64').toString()).toContain('1.005');

    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toMatchObject({
      level: 'INFO',
      message: 'aggregated batch',
      service: 'paypipe-aggregator',
      function_name: 'paypipe-dev-aggregator',
      function_request_id: 'req-1',
      timestamp: '2024-01-15T10:30:00.000Z',
      records_in: 7,
      valid: 5,
      rejected: 2,
      rejected_by_reason: { not_json: 1, amount_too_precise: 1 },
      aggregates_out: 4,
      windows: 3,
      duration_ms: 7,
      shard: 'shardId-000000000000',
    });
  });

  it('re-invoking with the same batch emits byte-identical aggregates and the same dead-letter key', async () => {
    fakeStream();
    const event = kinesisEvent(mixedBatch());
    await handler()(event);
    const first = kinesisMock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records);
    await handler()(event);
    const second = kinesisMock
      .commandCalls(PutRecordsCommand)
      .slice(first.length)
      .map((c) => c.args[0].input.Records);
    expect(second).toEqual(first);
    expect(s3Puts[1]?.Key).toBe(s3Puts[0]?.Key);
    expect(s3Puts[1]?.Body).toBe(s3Puts[0]?.Body);
  });

  it('retries only the entries that failed (throttling, internal failure): each aggregate is sent exactly once', async () => {
    // Call 1: entries 0 and 2 throttled, entry 3 internal failure; call 2: the first retried entry throttled again.
    fakeStream((call, i) => {
      if (call === 1 && (i === 0 || i === 2)) return 'ProvisionedThroughputExceededException';
      if (call === 1 && i === 3) return 'InternalFailure';
      if (call === 2 && i === 0) return 'ProvisionedThroughputExceededException';
      return undefined;
    });
    const res = await handler()(kinesisEvent(mixedBatch()));
    expect(res.batchItemFailures).toEqual([]);
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([4, 3, 1]);
    expect(accepted).toHaveLength(4);
    expect(new Set(accepted.map((a) => a.id)).size).toBe(4);
    expect(accepted.map((a) => a.transaction_count).reduce((s, n) => s + n, 0)).toBe(5);
  });

  it('entries still failing after retries → batchItemFailures with the FIRST sequence number; the retry dedups', async () => {
    const event = kinesisEvent(mixedBatch());
    // The 10:30 USD aggregate is always throttled: attempt 1 gets 3 of 4 out, the 4th never.
    fakeStream((_c, _i, a) =>
      a.currency === 'USD' && a.window_start === '2024-01-15T10:30:00.000Z'
        ? 'ProvisionedThroughputExceededException'
        : undefined,
    );
    const failing = await handler()(event);
    expect(failing).toEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[0]?.kinesis.sequenceNumber }],
    });
    const partial = [...accepted];
    expect(partial.length).toBe(3);
    const warn = logLines.find((l) => l.level === 'ERROR');
    expect(warn?.message).toBe('batch failed, will be retried from its first record');
    expect(String(warn?.error)).toMatch(/1 of 4 aggregates unsent/);

    // Lambda retries the same records: now everything goes through.
    kinesisMock.reset();
    fakeStream();
    expect(await handler()(event)).toEqual({ batchItemFailures: [] });
    // Downstream the partial first attempt and the full retry merge to the exact figures.
    const merged = mergeAggregates(accepted);
    expect(merged.duplicates).toBe(3);
    expect(merged.issues).toEqual([]);
    expect(
      merged.aggregates.map((a) => [a.window_start, a.currency, a.transaction_count, a.total_amount]),
    ).toEqual([
      ['2024-01-15T10:30:00.000Z', 'JPY', 1, 1500],
      ['2024-01-15T10:30:00.000Z', 'USD', 2, 10.3],
      ['2024-01-15T10:31:00.000Z', 'USD', 1, 99.99],
      ['2024-01-15T10:32:00.000Z', 'JPY', 1, 5],
    ]);
  });

  it('a whole-request error that persists → batch failure; a missing stream fails fast', async () => {
    const event = kinesisEvent(mixedBatch());
    kinesisMock
      .on(PutRecordsCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    expect((await handler()(event)).batchItemFailures).toEqual([
      { itemIdentifier: event.Records[0]?.kinesis.sequenceNumber },
    ]);
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(8);

    kinesisMock.reset();
    kinesisMock
      .on(PutRecordsCommand)
      .rejects(Object.assign(new Error('Stream x not found'), { name: 'ResourceNotFoundException' }));
    expect((await handler()(event)).batchItemFailures).toHaveLength(1);
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(1);
  });

  it('dead-letter PutObject failing → batch failure (bad records must not vanish)', async () => {
    fakeStream();
    s3Mock.reset();
    s3Mock.on(PutObjectCommand).rejects(Object.assign(new Error('Slow Down'), { name: 'SlowDown' }));
    const event = kinesisEvent(mixedBatch());
    const res = await handler()(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]?.kinesis.sequenceNumber }]);
    expect(String(logLines.find((l) => l.level === 'ERROR')?.error)).toMatch(
      /dead-letter PutObject .* SlowDown/,
    );
  });

  it('a batch of only bad records writes no aggregates and does not fail', async () => {
    fakeStream();
    const res = await handler()(
      kinesisEvent([
        { data: new Uint8Array([0xff, 0xfe]), arrivalMs: T0 },
        { data: '[]', arrivalMs: T0 },
        { data: JSON.stringify(wireEvent({ event_timestamp: T0 + 2 * 86_400_000 })), arrivalMs: T0 },
      ]),
    );
    expect(res.batchItemFailures).toEqual([]);
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(0);
    const reasons = String(s3Puts[0]?.Body)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).reason);
    expect(reasons).toEqual(['not_utf8', 'not_object', 'timestamp_in_future']);
  });

  it('an empty event is a no-op success', async () => {
    expect(await handler()({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(logLines[0]).toMatchObject({ records_in: 0, aggregates_out: 0 });
  });

  it('several shards in one event: aggregates per shard, failure reported per shard', async () => {
    const event = kinesisEvent([...mixedBatch(shardName(0)), ...mixedBatch(shardName(1))]);
    const ofShard1 = event.Records.filter((r) => r.eventID.startsWith(`${shardName(1)}:`));
    const ref1 = {
      shardId: shardName(1),
      firstSequenceNumber: ofShard1[0]?.kinesis.sequenceNumber as string,
      lastSequenceNumber: ofShard1[ofShard1.length - 1]?.kinesis.sequenceNumber as string,
    };
    // Every aggregate of shard 1's batch fails; shard 0's go through.
    fakeStream((_c, _i, a) =>
      a.id === aggregateId(ref1, a.window_start, a.currency) ? 'InternalFailure' : undefined,
    );
    const res = await handler()(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: ref1.firstSequenceNumber }]);
    expect(accepted).toHaveLength(4);
    expect(s3Puts.map((p) => p.Key?.split('/').pop()?.slice(0, 'shardId-000000000000'.length))).toEqual([
      shardName(0),
      shardName(1),
    ]);
    expect(logLines.at(-1)).toMatchObject({
      level: 'WARN',
      records_in: 14,
      valid: 10,
      aggregates_out: 8,
      shard: [shardName(0), shardName(1)],
      failed_shards: [shardName(1)],
    });
  });
});
