/**
 * Bad input through the REAL local pipeline (kinesalite + s3rver + the aggregator's event source
 * mapping + Firehose): every fixture, shuffled in among valid events with known exact totals.
 * Every bad record must be in the dead-letter store with the manifest's reason (matched by its
 * bytes and partition key), nothing else may be there, and the merged aggregates must equal the
 * valid events (plus the odd-but-valid edge fixtures) exactly, per window and currency.
 *
 * Also total_overflow, the one reason that is not a property of a record alone: the real
 * aggregator handler, on the same servers, given one batch whose window total passes the cap.
 */
import { CreateStreamCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRecords } from '../../src/aws/kinesis-sender.js';
import { readStream } from '../../src/aws/stream-reader.js';
import { mergeRecords } from '../../src/domain/exact-merge.js';
import { type WireEvent, serializeEvent, validateRecord } from '../../src/domain/event.js';
import { createAggregatorHandler, type DeadLetter } from '../../src/lambdas/aggregator-handler.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { readRecords } from '../../src/aws/s3-objects.js';
import {
  expectedCells,
  makeEvents,
  readDeadLetters,
  readMergedAggregates,
  type RawRecord,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
  toCells,
} from '../helpers/local-pipeline.js';
import { BAD_INPUTS, fixtureBytes } from './manifest.js';

let p: TestPipeline;
beforeAll(async () => {
  p = await startTestPipeline({ configOverrides: { shardCount: 2 } });
});
afterAll(async () => {
  await p?.cleanup();
});

/** Deterministic shuffle (the same mix every run, so a failure reproduces). */
function shuffle<T>(xs: T[], seed: number): T[] {
  let x = seed;
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('every fixture through the real local pipeline', () => {
  it('bad records are dead-lettered with their reason, valid ones aggregated exactly', async () => {
    const now = Date.now();
    const valid = makeEvents(3000, { startMs: now - 4 * 60_000, spanMs: 4 * 60_000, seed: 77, prefix: 'OK' });
    const carried = BAD_INPUTS.filter((b) => b.transport !== false);
    const bad = carried.filter((b) => b.reason !== null);
    const edges = carried.filter((b) => b.reason === null);
    const key = (file: string): string => `fixture:${file}`;
    const mix: RawRecord[] = shuffle(
      [
        ...valid.map((e) => ({ data: serializeEvent(e), partitionKey: e.transaction_id })),
        ...carried.map((b) => ({ data: fixtureBytes(b.file), partitionKey: key(b.file) })),
      ],
      5,
    );
    await sendRaw(p, mix);

    // What Kinesis itself refuses never reaches the aggregator: the sender must say so, not drop it.
    for (const b of BAD_INPUTS.filter((x) => x.transport === false)) {
      const s = await sendRecords(p.kinesis, p.config.streams.input.name, [
        { data: fixtureBytes(b.file), partitionKey: key(b.file) },
      ]);
      expect(s.sent).toBe(0);
      expect(s.failedRecords.map((f) => f.errorCode)).toEqual(['InvalidRecord']);
    }

    await p.waitForIdle({ timeoutMs: 50_000, flush: true });

    // Dead letters: a retried batch may rewrite its object, so key them by sequence number.
    const dead = new Map<string, DeadLetter>();
    for (const d of (await readDeadLetters(p)) as DeadLetter[]) dead.set(d.sequence_number, d);
    const byBytes = new Map([...dead.values()].map((d) => [d.data_base64, d]));
    const problems: string[] = [];
    for (const b of bad) {
      const d = byBytes.get(fixtureBytes(b.file).toString('base64'));
      if (d === undefined) problems.push(`${b.file}: not in the dead-letter store`);
      else if (d.reason !== b.reason)
        problems.push(`${b.file}: dead-lettered as ${d.reason}, expected ${b.reason}`);
      else if (d.partition_key !== key(b.file)) problems.push(`${b.file}: partition key ${d.partition_key}`);
    }
    expect(problems).toEqual([]);
    // Nothing else: no valid event and no edge case was dead-lettered.
    expect(dead.size).toBe(bad.length);
    for (const d of dead.values()) {
      expect(d.detail).toBeTypeOf('string');
      expect(d.shard_id).toMatch(/^shardId-\d{12}$/);
    }

    // Aggregates: the valid events plus the edge cases, exactly (edges sit in their own 2024 window).
    const edgeEvents: WireEvent[] = edges.map((b) => {
      const v = validateRecord(fixtureBytes(b.file), { arrivalMs: now, maxFutureSkewMs: 86_400_000 });
      if (!v.ok) throw new Error(`${b.file} should be valid: ${v.detail}`);
      const { amountMinor: _, ...wire } = v.event;
      return wire;
    });
    expect(edgeEvents).toHaveLength(edges.length);
    const merged = await readMergedAggregates(p);
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells([...valid, ...edgeEvents], 60));
    expect(merged.aggregates.reduce((n, a) => n + a.transaction_count, 0)).toBe(valid.length + edges.length);
  });
});

describe('total_overflow (a window total past the cap) through the real aggregator handler', () => {
  it('rejects exactly the record that would overflow, keeps the window exact, and later small ones still count', async () => {
    const outputStreamName = 'bad-input-overflow-output';
    await p.kinesis.send(new CreateStreamCommand({ StreamName: outputStreamName, ShardCount: 1 }));
    await waitUntilStreamExists({ client: p.kinesis, maxWaitTime: 30 }, { StreamName: outputStreamName });
    const prefix = 'bad-input-overflow-dead-letters/';
    const handler = createAggregatorHandler({
      kinesis: p.kinesis,
      s3: p.s3,
      outputStreamName,
      deadLetterBucket: p.config.buckets.analytics,
      deadLetterPrefix: prefix,
      windowSeconds: 60,
      maxFutureSkewMs: 86_400_000,
      logger: createLogger({ service: 'aggregator', functionName: 'overflow-test', sink: () => {} }),
    });
    const t = Date.UTC(2024, 0, 15, 10, 30, 5);
    const arrival = (t + 1000) / 1000;
    // 1,000 payments at the per-payment cap (10,000,000,000.00 USD = 10^12 cents): the 1,000th would
    // take the window to 10^15 cents, past 999,999,999,999,999. Then one cent, which still fits.
    const events: WireEvent[] = [
      ...Array.from({ length: 1000 }, (_, i) => ({
        transaction_id: `BIG${i}`,
        amount: 10_000_000_000,
        currency: 'USD',
        merchant: 'Overflow Inc',
        event_timestamp: t,
      })),
      { transaction_id: 'CENT', amount: 0.01, currency: 'USD', merchant: 'Overflow Inc', event_timestamp: t },
    ];
    const records: KinesisStreamRecord[] = events.map((e, i) => {
      const seq = String(49_000_000_000_000_000_000n + BigInt(i));
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: e.transaction_id,
          sequenceNumber: seq,
          data: Buffer.from(serializeEvent(e)).toString('base64'),
          approximateArrivalTimestamp: arrival,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-000000000000:${seq}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/test',
        awsRegion: p.config.region,
        eventSourceARN: `arn:aws:kinesis:${p.config.region}:000000000000:stream/test`,
      };
    });
    const res = await handler({ Records: records } as KinesisStreamEvent);
    expect(res.batchItemFailures).toEqual([]);

    const dead = (await readRecords(p.s3, p.config.buckets.analytics, prefix)).records as DeadLetter[];
    expect(dead.map((d) => [d.reason, d.partition_key])).toEqual([['total_overflow', 'BIG999']]);

    const out = [];
    for await (const r of readStream(p.kinesis, outputStreamName, {
      position: { type: 'trim-horizon' },
      minIntervalMs: 0,
    })) {
      out.push(JSON.parse(Buffer.from(r.data).toString('utf8')) as unknown);
    }
    // One batch output, with the one cell.
    expect(out).toHaveLength(1);
    const m = mergeRecords(out);
    expect(m.complete).toBe(true);
    expect(m.cells.map((c) => c.totals)).toEqual([
      {
        count: 1000,
        totalMinor: 999 * 1_000_000_000_000 + 1,
        minMinor: 1,
        maxMinor: 1_000_000_000_000,
      },
    ]);
  });
});
