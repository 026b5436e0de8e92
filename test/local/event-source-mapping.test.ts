import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { serializeEvent } from '../../src/domain/event.js';
import type { AggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import { listFailedBatches } from '../../src/local/failed-batches.js';
import {
  expectedCells,
  makeEvents,
  readDeadLetters,
  readMergedAggregates,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
  toCells,
} from '../helpers/local-pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.cleanup();
  p = undefined;
});

const decode = (ev: KinesisStreamEvent): string[] =>
  ev.Records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString('utf8'));

describe('event source mapping emulator', () => {
  it('two shards, out-of-order event times, a batch failed after partial output and a thrown batch: totals exact', async () => {
    const seen: KinesisStreamEvent[] = [];
    let calls = 0;
    const wrap =
      (h: AggregatorHandler): AggregatorHandler =>
      async (event, context) => {
        calls++;
        seen.push(event);
        if (calls === 1) {
          // An infrastructure failure after some output went out: the aggregator's own contract
          // (whole batch, first sequence number) — the retry must produce the same ids.
          await h(event, context);
          return {
            batchItemFailures: [{ itemIdentifier: event.Records[0]?.kinesis.sequenceNumber as string }],
          };
        }
        if (calls === 2) throw new Error('simulated crash before any output');
        return h(event, context);
      };
    p = await startTestPipeline({ configOverrides: { shardCount: 2, batchSize: 100 }, wrapAggregator: wrap });
    const now = Date.now();
    // Random times over 5 windows, sent in that (unsorted) order: out of order per shard.
    const events = makeEvents(1200, { startMs: now - 5 * 60_000, spanMs: 5 * 60_000, seed: 11 });
    await sendEvents(p, events);
    await p.waitForIdle({ timeoutMs: 40_000 });

    const merged = await readMergedAggregates(p);
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
    // The first attempt's output arrived twice (attempt + retry, byte for byte) and counted once.
    expect(merged.stats.duplicates).toBeGreaterThan(0);

    const st = p.status();
    expect(st.lag.map((l) => l.shardId)).toEqual(['shardId-000000000000', 'shardId-000000000001']);
    expect(st.aggregator.partialFailures).toBe(1);
    expect(st.aggregator.bisections).toBe(1);
    expect(st.failedBatches).toBe(0);
    // Both shards were read and every record reached the function exactly once outside retries.
    const shardsSeen = new Set(seen.flatMap((e) => e.Records.map((r) => r.eventID.split(':')[0])));
    expect(shardsSeen.size).toBe(2);
    expect(Math.max(...seen.map((e) => e.Records.length))).toBeLessThanOrEqual(100);

    // The exact Lambda event shape.
    const r = seen[0]?.Records[0];
    expect(r).toBeDefined();
    expect(Object.keys(r ?? {})).toEqual([
      'kinesis',
      'eventSource',
      'eventVersion',
      'eventID',
      'eventName',
      'invokeIdentityArn',
      'awsRegion',
      'eventSourceARN',
    ]);
    expect(r?.eventSource).toBe('aws:kinesis');
    expect(r?.eventVersion).toBe('1.0');
    expect(r?.eventName).toBe('aws:kinesis:record');
    expect(r?.awsRegion).toBe('ap-southeast-2');
    expect(r?.eventSourceARN).toBe(
      `arn:aws:kinesis:ap-southeast-2:000000000000:stream/${p.config.streams.input.name}`,
    );
    expect(r?.eventID).toBe(`${r?.eventID.split(':')[0]}:${r?.kinesis.sequenceNumber}`);
    expect(r?.kinesis.kinesisSchemaVersion).toBe('1.0');
    expect(r?.kinesis.approximateArrivalTimestamp).toBeGreaterThan(now / 1000 - 60);
    expect(r?.kinesis.approximateArrivalTimestamp).toBeLessThan(Date.now() / 1000 + 1);
    const first = JSON.parse(decode(seen[0] as KinesisStreamEvent)[0] as string) as {
      transaction_id: string;
    };
    expect(r?.kinesis.partitionKey).toBe(first.transaction_id);
    // The retry after the partial failure (the next invocation for that shard) carried exactly the same records.
    const shardOf = (e: KinesisStreamEvent | undefined): string | undefined =>
      e?.Records[0]?.eventID.split(':')[0];
    const retry = seen.slice(1).find((e) => shardOf(e) === shardOf(seen[0]));
    expect(retry?.Records.map((x) => x.kinesis.sequenceNumber)).toEqual(
      seen[0]?.Records.map((x) => x.kinesis.sequenceNumber),
    );
  });

  it('malformed records go to the dead-letter store with reasons; later valid records on the shard still count', async () => {
    p = await startTestPipeline({ configOverrides: { shardCount: 1 } });
    const now = Date.now();
    const good = makeEvents(300, { startMs: now - 2 * 60_000, spanMs: 2 * 60_000, seed: 3 });
    const base = good[0] as (typeof good)[number];
    const malformed = [
      { data: '{"transaction_id": "BAD1", "amount": 5', reason: 'not_json' },
      { data: serializeEvent({ ...base, transaction_id: 'BAD2', amount: -1 }), reason: 'amount_negative' },
      {
        data: serializeEvent({ ...base, transaction_id: 'BAD3', currency: 'XXXX' }),
        reason: 'unknown_currency',
      },
    ];
    // Valid, then malformed, then valid again — all on one shard.
    await sendEvents(p, good.slice(0, 150));
    await sendRaw(
      p,
      malformed.map((m) => ({ data: m.data, partitionKey: 'same' })),
    );
    await sendEvents(p, good.slice(150));
    await p.waitForIdle({ timeoutMs: 30_000 });

    const dead = await readDeadLetters(p);
    expect(dead.map((d) => d.reason).sort()).toEqual(malformed.map((m) => m.reason).sort());
    expect(dead.map((d) => Buffer.from(d.data_base64, 'base64').toString('utf8')).sort()).toEqual(
      malformed.map((m) => m.data).sort(),
    );
    const merged = await readMergedAggregates(p);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(good, 60));
    expect(p.status().deadLettered).toBe(3);
  });

  it('a poison record is isolated by bisection and, after bounded retries, recorded as a failed batch', async () => {
    const wrap =
      (h: AggregatorHandler): AggregatorHandler =>
      async (event, context): Promise<KinesisStreamBatchResponse> => {
        if (decode(event).some((d) => d.includes('POISON'))) throw new Error('cannot handle this record');
        return h(event, context);
      };
    p = await startTestPipeline({
      configOverrides: { shardCount: 1, retryAttempts: 1, batchSize: 64 },
      wrapAggregator: wrap,
    });
    const now = Date.now();
    const events = makeEvents(200, { startMs: now - 60_000, spanMs: 60_000, seed: 5 });
    const poisonIndex = 77;
    const poison = { ...(events[poisonIndex] as (typeof events)[number]), merchant: 'POISON' };
    const all = [...events.slice(0, poisonIndex), poison, ...events.slice(poisonIndex + 1)];
    await sendEvents(p, all);
    await p.waitForIdle({ timeoutMs: 40_000 });

    const failed = await listFailedBatches(p.dataDir);
    expect(failed).toHaveLength(1);
    const f = failed[0];
    expect(f?.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(f?.requestContext.approximateInvokeCount).toBe(2);
    expect(f?.requestContext.functionArn).toBe(
      `arn:aws:lambda:ap-southeast-2:000000000000:function:${p.config.aggregator.functionName}`,
    );
    expect(f?.responseContext.functionError).toBe('Unhandled');
    expect(f?.KinesisBatchInfo.batchSize).toBe(1);
    expect(f?.KinesisBatchInfo.shardId).toBe('shardId-000000000000');
    expect(f?.KinesisBatchInfo.startSequenceNumber).toBe(f?.KinesisBatchInfo.endSequenceNumber);
    expect(f?.KinesisBatchInfo.streamArn).toContain(p.config.streams.input.name);
    expect(Date.parse(f?.KinesisBatchInfo.approximateArrivalOfFirstRecord ?? '')).toBeGreaterThan(
      now - 60_000,
    );
    expect(p.status().failedBatches).toBe(1);

    // Everything but the poison record is aggregated exactly.
    const merged = await readMergedAggregates(p);
    expect(toCells(merged.aggregates)).toEqual(
      expectedCells(
        all.filter((e) => e !== poison),
        60,
      ),
    );
  });
});
