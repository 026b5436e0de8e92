import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, type PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchAggregator, type CellFigures, renderCell } from '../../src/domain/aggregate.js';
import { type RejectReason, validateRecordFull } from '../../src/domain/event.js';
import { mergeRecords } from '../../src/domain/exact-merge.js';
import { PREFIXES } from '../../src/pipeline/config.js';
import {
  createAggregatorHandler,
  type DeadLetter,
  groupByShard,
  shardIdOf,
} from '../../src/lambdas/aggregator-handler.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { eventSpec, kinesisEvent, type RecordSpec, shardName, wireEvent } from '../factories/kinesis.js';

const kinesisMock = mockClient(KinesisClient);
const s3Mock = mockClient(S3Client);
const T0 = Date.UTC(2024, 0, 15, 10, 30);

/** A batch output record as the aggregator writes it. */
interface OutputRecord {
  schema_version: number;
  shard_id: string;
  first_sequence_number: string;
  last_sequence_number: string;
  records: number;
  digest: string;
  part: number;
  parts: number;
  aggregates: CellFigures[];
}

/** Output records the fake stream accepted (only entries whose result had no ErrorCode). */
let accepted: OutputRecord[];
let logLines: Record<string, unknown>[];
let s3Puts: PutObjectCommandInput[];

function handler(now?: () => number, maxOutputRecordBytes?: number) {
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
    ...(maxOutputRecordBytes === undefined ? {} : { maxOutputRecordBytes }),
  });
}

const decode = (input: PutRecordsCommandInput, i: number): OutputRecord =>
  JSON.parse(Buffer.from(input.Records?.[i]?.Data as Uint8Array).toString('utf8'));

/** A PutRecords fake: `fail(callNo, index)` decides per entry whether to return an ErrorCode. */
function fakeStream(
  fail: (call: number, index: number, rec: OutputRecord) => string | undefined = () => undefined,
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

const ROWS = [
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
];

/** Merged rows (window, currency, count, total) of what the stream accepted. */
const mergedRows = (): Array<[string, string, number, number]> =>
  mergeRecords(accepted).aggregates.map((a) => [
    a.window_start,
    a.currency,
    a.transaction_count,
    a.total_amount,
  ]);

/** 40 events, one per minute, in 3 currencies: 40 cells, enough to need several parts at 1,200 bytes. */
function wideBatch(): RecordSpec[] {
  return Array.from({ length: 40 }, (_, i) =>
    eventSpec(
      wireEvent({
        transaction_id: `TXN${i}`,
        amount: 1 + i,
        currency: ['USD', 'EUR', 'JPY'][i % 3] as string,
        event_timestamp: T0 + i * 60_000,
      }),
    ),
  );
}

describe('aggregator handler', () => {
  it('writes ONE batch output (shard, sequence range, cells), dead-letters the bad records, logs one line', async () => {
    fakeStream();
    let t = 1000;
    const event = kinesisEvent(mixedBatch());
    const res = await handler(() => (t += 7))(event, {
      awsRequestId: 'req-1',
      functionName: 'paypipe-dev-aggregator',
    });
    expect(res).toEqual({ batchItemFailures: [] });

    expect(accepted).toHaveLength(1);
    const out = accepted[0] as OutputRecord;
    expect(Object.keys(out)).toEqual([
      'schema_version',
      'shard_id',
      'first_sequence_number',
      'last_sequence_number',
      'records',
      'digest',
      'part',
      'parts',
      'aggregates',
    ]);
    expect(out).toMatchObject({
      schema_version: 2,
      shard_id: 'shardId-000000000000',
      first_sequence_number: event.Records[0]?.kinesis.sequenceNumber,
      last_sequence_number: event.Records.at(-1)?.kinesis.sequenceNumber,
      records: 7,
      part: 1,
      parts: 1,
    });
    expect(out.digest).toMatch(/^[0-9a-f]{32}$/);
    expect(out.aggregates).toEqual(ROWS);
    // Partition key = the input shard; data is one NDJSON line.
    const input = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input as PutRecordsCommandInput;
    expect(input.StreamName).toBe('paypipe-dev-output-stream');
    expect(input.Records?.map((r) => r.PartitionKey)).toEqual(['shardId-000000000000']);
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
      output_records: 1,
      windows: 3,
      duration_ms: 7,
      shard: 'shardId-000000000000',
    });
  });

  it('re-invoking with the same batch emits a byte-identical output and the same dead-letter key', async () => {
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

  it('an output past the record limit is split into parts "i of n" with one envelope; each fits', async () => {
    fakeStream();
    const event = kinesisEvent(wideBatch());
    expect((await handler(undefined, 1200)(event)).batchItemFailures).toEqual([]);
    const input = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input as PutRecordsCommandInput;
    for (const r of input.Records ?? []) expect((r.Data as Uint8Array).byteLength).toBeLessThanOrEqual(1200);
    const n = accepted.length;
    expect(n).toBeGreaterThan(2);
    expect(accepted.map((r) => [r.part, r.parts])).toEqual(Array.from({ length: n }, (_, i) => [i + 1, n]));
    expect(new Set(accepted.map((r) => `${r.digest} ${r.first_sequence_number} ${r.records}`)).size).toBe(1);
    const m = mergeRecords(accepted);
    expect(m.complete).toBe(true);
    expect(m.cells).toHaveLength(40);
    expect(m.cells.reduce((s, c) => s + c.totals.count, 0)).toBe(40);
  });

  it('retries only the parts that failed (throttling, internal failure): each part is sent exactly once', async () => {
    // Call 1: parts 1 and 3 throttled, part 4 internal failure; call 2: the first retried part throttled again.
    fakeStream((call, i) => {
      if (call === 1 && (i === 0 || i === 2)) return 'ProvisionedThroughputExceededException';
      if (call === 1 && i === 3) return 'InternalFailure';
      if (call === 2 && i === 0) return 'ProvisionedThroughputExceededException';
      return undefined;
    });
    const res = await handler(undefined, 1200)(kinesisEvent(wideBatch()));
    expect(res.batchItemFailures).toEqual([]);
    const calls = kinesisMock.commandCalls(PutRecordsCommand);
    const n = calls[0]?.args[0].input.Records?.length as number;
    expect(n).toBeGreaterThan(3);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([n, 3, 1]);
    expect(accepted.map((r) => r.part).sort((a, b) => a - b)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
  });

  it('parts still failing after retries → the FIRST sequence number fails; the half-written output never counts', async () => {
    const event = kinesisEvent(wideBatch());
    // Part 2 is always throttled: attempt 1 gets the other parts out, part 2 never.
    fakeStream((_c, _i, r) => (r.part === 2 ? 'ProvisionedThroughputExceededException' : undefined));
    const failing = await handler(undefined, 1200)(event);
    expect(failing).toEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[0]?.kinesis.sequenceNumber }],
    });
    const partial = [...accepted];
    expect(partial.length).toBe((partial[0]?.parts ?? 0) - 1);
    const err = logLines.find((l) => l.level === 'ERROR');
    expect(err?.message).toBe('batch failed, will be retried from its first record');
    expect(String(err?.error)).toMatch(/1 of \d+ batch output record\(s\) unsent/);
    // What got out is an attempt that failed half-way: counted for nothing, and the range is open.
    const half = mergeRecords(partial);
    expect(half.cells).toEqual([]);
    expect(half.complete).toBe(false);

    // Lambda retries (here: the same records): now everything goes through; the parts are the same.
    kinesisMock.reset();
    fakeStream();
    expect(await handler(undefined, 1200)(event)).toEqual({ batchItemFailures: [] });
    const merged = mergeRecords(accepted);
    expect(merged.complete).toBe(true);
    expect(merged.stats.duplicates).toBe(partial.length);
    expect(merged.cells.reduce((s, c) => s + c.totals.count, 0)).toBe(40);
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

  it('a batch of only bad records still writes its (empty) output: the range was processed', async () => {
    fakeStream();
    const event = kinesisEvent([
      { data: new Uint8Array([0xff, 0xfe]), arrivalMs: T0 },
      { data: '[]', arrivalMs: T0 },
      { data: JSON.stringify(wireEvent({ event_timestamp: T0 + 2 * 86_400_000 })), arrivalMs: T0 },
    ]);
    const res = await handler()(event);
    expect(res.batchItemFailures).toEqual([]);
    expect(accepted).toEqual([
      expect.objectContaining({
        first_sequence_number: event.Records[0]?.kinesis.sequenceNumber,
        last_sequence_number: event.Records[2]?.kinesis.sequenceNumber,
        records: 3,
        aggregates: [],
      }),
    ]);
    const reasons = String(s3Puts[0]?.Body)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).reason);
    expect(reasons).toEqual(['not_utf8', 'not_object', 'timestamp_in_future']);
  });

  it('an empty event is a no-op success', async () => {
    expect(await handler()({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(logLines[0]).toMatchObject({ records_in: 0, aggregates_out: 0 });
    expect(kinesisMock.commandCalls(PutRecordsCommand)).toHaveLength(0);
  });

  it('several shards in one event: one output per shard, failure reported per shard', async () => {
    const event = kinesisEvent([...mixedBatch(shardName(0)), ...mixedBatch(shardName(1))]);
    const ofShard1 = event.Records.filter((r) => r.eventID.startsWith(`${shardName(1)}:`));
    // Shard 1's output fails every time; shard 0's goes through.
    fakeStream((_c, _i, r) => (r.shard_id === shardName(1) ? 'InternalFailure' : undefined));
    const res = await handler()(event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: ofShard1[0]?.kinesis.sequenceNumber }]);
    expect(accepted.map((r) => r.shard_id)).toEqual([shardName(0)]);
    expect(mergedRows()).toEqual(
      ROWS.map((r) => [r.window_start, r.currency, r.transaction_count, r.total_amount]),
    );
    expect(s3Puts.map((p) => p.Key?.split('/').pop()?.slice(0, 'shardId-000000000000'.length))).toEqual([
      shardName(0),
      shardName(1),
    ]);
    expect(logLines.at(-1)).toMatchObject({
      level: 'WARN',
      records_in: 14,
      valid: 10,
      aggregates_out: 8,
      output_records: 2,
      shard: [shardName(0), shardName(1)],
      failed_shards: [shardName(1)],
    });
  });
});

/**
 * The handler's fast path (the compact reader over one reused decode buffer) against the full
 * validation record by record. Adversaries: records of every shape mixed in one batch, long
 * records (past the reused buffer) between short ones, and a short record after a long one whose
 * bytes are still in the buffer.
 */
describe('aggregator handler: fast path', () => {
  const ARRIVAL = T0 + 300_000;
  const compact = (i: number, amount: string, currency = 'USD'): string =>
    `{"transaction_id":"TXN${i}","amount":${amount},"currency":"${currency}","merchant":"Shop ${i % 7}","event_timestamp":${T0 + ((i * 7919) % 240_000)}}`;
  /** Records of many shapes: compact (the fast path's), near-compact, and rejected ones. */
  const shapes: ((i: number) => string)[] = [
    (i) => compact(i, `${i % 500}.${String(i % 100).padStart(2, '0')}`),
    (i) => compact(i, String(i % 9000), 'JPY'),
    (i) => compact(i, `${i}.125`, 'BHD'),
    (i) => JSON.stringify(JSON.parse(compact(i, '12.5')), null, 2), // line breaks
    (i) => compact(i, '12.5').replace('"amount"', '"am\\u006funt"'), // escaped key
    (i) => compact(i, '12.5').replace('Shop', 'Café'), // non-ASCII
    (i) => compact(i, '1.25e1'), // exponent amount
    (i) => compact(i, '0.1000000000000000000001'), // past a double's digits
    (i) => compact(i, '12.5').replace('{', '{"amount":999,'), // a key written twice
    (i) => compact(i, '1.005'), // too precise
    (i) => compact(i, '12.5').slice(0, 20 + (i % 40)), // cut: the buffer still holds a longer record's tail
    (i) => compact(i, '12.5').replace('Shop', 'S\u0085'), // a C1 control character
    (i) => `${' '.repeat(50_000)}${compact(i, '7.25')}`, // past the reused buffer, then shorter ones
  ];

  it('every batch gives the same aggregates and dead letters as the full validation of each record (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(shapes.length - 1), fc.nat(10_000)), { minLength: 1, maxLength: 25 }),
        async (picks) => {
          kinesisMock.reset();
          s3Puts = [];
          accepted = [];
          fakeStream();
          const texts = picks.map(([s, i]) => (shapes[s] as (i: number) => string)(i));
          const event = kinesisEvent(texts.map((data) => ({ data, arrivalMs: ARRIVAL })));
          const res = await handler()(event);
          expect(res.batchItemFailures).toEqual([]);
          // The reference: the full validation of each record, aggregated and rendered.
          const acc = new BatchAggregator(60_000);
          const rejects: [RejectReason, string][] = [];
          for (const t of texts) {
            const v = validateRecordFull(Buffer.from(t), { arrivalMs: ARRIVAL, maxFutureSkewMs: 86_400_000 });
            if (v.ok) expect(acc.add(v.event)).toBe(true);
            else rejects.push([v.reason, v.detail]);
          }
          const expected = acc.cells().map((c) => renderCell(c.windowStartMs, 60_000, c.currency, c.totals));
          expect((accepted[0] as OutputRecord).aggregates).toEqual(expected);
          const dead = s3Puts.flatMap((p) =>
            String(p.Body)
              .trimEnd()
              .split('\n')
              .map((l) => JSON.parse(l) as DeadLetter),
          );
          expect(dead.map((d) => [d.reason, d.detail])).toEqual(rejects);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('compact records never reach JSON.parse; any other shape does (the full path decides)', async () => {
    fakeStream();
    const parsed = vi.spyOn(JSON, 'parse');
    try {
      const count = () => parsed.mock.calls.filter(([t]) => String(t).includes('transaction_id')).length;
      const event = kinesisEvent(
        Array.from({ length: 200 }, (_, i) => ({ data: compact(i, '1.50'), arrivalMs: ARRIVAL })),
      );
      await handler()(event);
      expect(count()).toBe(0);
      expect(logLines.at(-1)).toMatchObject({ records_in: 200, valid: 200 });
      // An extra key: valid, but not the compact shape.
      const extra = compact(1, '1.50').replace('{', '{"note":"x",');
      await handler()(kinesisEvent([{ data: extra, arrivalMs: ARRIVAL }]));
      expect(count()).toBe(1);
      expect(logLines.at(-1)).toMatchObject({ records_in: 1, valid: 1 });
    } finally {
      parsed.mockRestore();
    }
  });

  it('decoding into the reused buffer gives the bytes Buffer.from gives, for any base64-ish text', () => {
    const scratch = Buffer.alloc(64);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64')),
          fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64').replace(/=+$/, '')),
          fc.string({ unit: fc.constantFrom(...'ABCxyz019+/=-_ \n.'), maxLength: 64 }),
        ),
        (s) => {
          scratch.fill(0xaa);
          const n = scratch.write(s, 0, scratch.length, 'base64');
          expect(Buffer.compare(scratch.subarray(0, n), Buffer.from(s, 'base64'))).toBe(0);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('groupByShard', () => {
  it('groups exactly as shardIdOf per record does, order kept, whatever the eventIDs (fast-check)', () => {
    const part = fc.constantFrom(
      'shardId-000000000000',
      'shardId-000000000001',
      ':',
      'a',
      '',
      '4965',
      'shardId-unknown',
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.array(part, { maxLength: 4 }).map((p) => p.join('')),
          { maxLength: 30 },
        ),
        (ids) => {
          const records = ids.map(
            (eventID, i) =>
              ({ eventID, kinesis: { sequenceNumber: String(i) } }) as unknown as KinesisStreamRecord,
          );
          const naive = new Map<string, KinesisStreamRecord[]>();
          for (const r of records) naive.set(shardIdOf(r), [...(naive.get(shardIdOf(r)) ?? []), r]);
          expect([...groupByShard(records)]).toEqual([...naive]);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
