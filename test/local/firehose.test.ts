import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { decodeObject } from '../../src/pipeline/codec.js';
import { localTarget } from '../../src/local/endpoints.js';
import { expandPrefix, FirehoseDelivery, objectName } from '../../src/local/firehose.js';
import { getObjectBytes, listKeys } from '../../src/aws/s3-objects.js';
import { provisionResources, startLocalServers } from '../../src/local/servers.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  type TestPipeline,
  tempDataDir,
} from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

describe('Firehose key layout', () => {
  it('expands !{timestamp:…} from the arrival time in UTC and names objects like Firehose', () => {
    const c = resolveConfig();
    const t = Date.UTC(2024, 0, 15, 9, 5, 7);
    expect(expandPrefix(c.firehose.analytics.prefix, t)).toBe(
      'aggregations/year=2024/month=01/day=15/hour=09/',
    );
    expect(expandPrefix(c.firehose.raw.errorPrefix, t, 'processing-failed')).toBe(
      'errors/raw/processing-failed/year=2024/month=01/day=15/hour=09/',
    );
    const ranges = [{ shardId: 'shardId-000000000000', first: '1', last: '5' }];
    const name = objectName('paypipe-dev-analytics-firehose', t, ranges);
    expect(name).toMatch(
      /^paypipe-dev-analytics-firehose-1-2024-01-15-09-05-07-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    // Deterministic from (shard, first sequence); different ranges → different ids.
    expect(objectName('paypipe-dev-analytics-firehose', t, ranges)).toBe(name);
    expect(objectName('paypipe-dev-analytics-firehose', t, [{ ...ranges[0], first: '2' } as never])).not.toBe(
      name,
    );
  });
});

describe('Firehose buffering', () => {
  const dataDir = tempDataDir('firehose-buffer');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  // Adversary: a delivery that writes an object per put (or per poll) instead of per interval. The
  // buffer interval runs on an injected clock, so "2 s passed" is a fact, not a sleep that hopes.
  it('with a 2 s interval writes one object per interval, not per record', async () => {
    const intervalMs = 2000;
    const config = resolveConfig({ shardCount: 1, bufferIntervalSeconds: intervalMs / 1000 });
    const servers = await startLocalServers({ dataDir, region: config.region });
    const target = localTarget({ region: config.region, ...servers });
    const kinesis = await kinesisClient(target);
    const s3 = await s3Client(target);
    let t = Date.UTC(2024, 0, 15, 9, 0, 0);
    const t0 = t;
    const objectTimes: number[] = [];
    const delivery = new FirehoseDelivery({
      kinesis,
      s3,
      sourceStream: config.streams.input.name,
      bucket: config.buckets.raw,
      settings: config.firehose.raw,
      stateFile: join(dataDir, 'firehose-state.json'),
      pendingDir: join(dataDir, 'pending'),
      idlePollMs: 5,
      maxIdlePollMs: 5,
      now: () => t,
      onObject: () => void objectTimes.push(t - t0),
    });
    /** Moves the clock on and waits for a whole poll that saw the new time (and any delivery it made). */
    const advance = async (ms: number): Promise<void> => {
      t += ms;
      const p = delivery.pollCount();
      await waitFor(() => delivery.pollCount() > p + 1, 'a poll after the clock moved');
    };
    try {
      await provisionResources(config, kinesis, s3);
      await delivery.start();
      const fake = { kinesis, config: { streams: config.streams } } as unknown as TestPipeline;
      const events = makeEvents(20, { startMs: t - 60_000, spanMs: 60_000, seed: 9 });
      // A trickle: 10 puts of 2 records, 300 ms apart on the clock (2.7 s).
      const putTimes: number[] = [];
      for (let i = 0; i < 10; i++) {
        await sendEvents(fake, events.slice(i * 2, i * 2 + 2));
        putTimes.push(t - t0);
        await waitFor(() => delivery.stats.recordsIn === (i + 1) * 2, `put ${i + 1} read`);
        await advance(300);
      }
      // Then the clock runs on until the last buffer is due.
      for (let i = 0; i < 10 && delivery.bufferedRecords() > 0; i++) await advance(300);
      await waitFor(() => delivery.isIdle(), 'the delivery to go idle');

      // Expected, from the rule alone: an object is cut at the first poll at least one interval
      // after the first record of its buffer arrived.
      const expected: number[] = [];
      let bufferStart: number | undefined;
      for (let now = 0; now <= putTimes[putTimes.length - 1]! + 2 * intervalMs; now += 300) {
        if (bufferStart !== undefined && now - bufferStart >= intervalMs) {
          expected.push(now);
          bufferStart = undefined;
        }
        if (putTimes.includes(now)) bufferStart ??= now;
      }
      expect(objectTimes).toEqual(expected);
      expect(objectTimes.length).toBeLessThan(putTimes.length);
      for (let i = 1; i < objectTimes.length; i++) {
        expect(objectTimes[i]! - objectTimes[i - 1]!).toBeGreaterThanOrEqual(intervalMs);
      }
      const keys = await listKeys(s3, config.buckets.raw, 'data/');
      expect(keys.length).toBe(objectTimes.length);
      // Each object holds the records of a whole interval, gzip JSON lines: one line per record.
      let total = 0;
      for (const k of keys) {
        const bytes = await getObjectBytes(s3, config.buckets.raw, k);
        const lines = gunzipSync(bytes).toString('utf8').split('\n');
        expect(lines.pop()).toBe('');
        const records = decodeObject(bytes, k).records;
        expect(lines.map((l) => JSON.parse(l))).toEqual(records);
        total += records.length;
      }
      expect(total).toBe(events.length);
    } finally {
      await delivery.stop();
      kinesis.destroy();
      s3.destroy();
      await servers.stop();
    }
  });
});

describe('Firehose crash idempotency', () => {
  const dataDir = tempDataDir('firehose');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a crash after the write but before the checkpoint rewrites the same key on restart', async () => {
    const config = resolveConfig({ shardCount: 1, bufferIntervalSeconds: 0 });
    const servers = await startLocalServers({ dataDir, region: config.region });
    const target = localTarget({ region: config.region, ...servers });
    const kinesis = await kinesisClient(target);
    const s3 = await s3Client(target);
    try {
      await provisionResources(config, kinesis, s3);
      const fake = { kinesis, config: { streams: config.streams } } as unknown as TestPipeline;
      await sendRaw(
        fake,
        Array.from({ length: 30 }, (_, i) => ({ data: JSON.stringify({ n: i }), partitionKey: `k${i}` })),
      );
      const stateFile = join(dataDir, 'firehose-state.json');
      const make = (onObject?: (key: string) => void) =>
        new FirehoseDelivery({
          kinesis,
          s3,
          sourceStream: config.streams.input.name,
          bucket: config.buckets.raw,
          settings: config.firehose.raw,
          stateFile,
          pendingDir: join(dataDir, 'pending'),
          idlePollMs: 20,
          ...(onObject === undefined ? {} : { onObject }),
        });
      let crashedKey: string | undefined;
      const first = make((key) => {
        crashedKey = key;
        first.crash();
      });
      await first.start();
      await waitFor(() => crashedKey !== undefined, 'the first object (and the crash after it)');
      await first.stop();
      expect(await listKeys(s3, config.buckets.raw, 'data/')).toEqual([crashedKey]);

      const second = make();
      await second.start();
      await waitFor(() => second.stats.objectsWritten > 0 && second.isIdle(), 'the rewrite after restart');
      await second.stop();
      // Same key rewritten, no second copy of those records.
      expect(await listKeys(s3, config.buckets.raw, 'data/')).toEqual([crashedKey]);
      expect(second.stats.lastObjectKey).toBe(crashedKey);
      const bytes = await getObjectBytes(s3, config.buckets.raw, crashedKey as string);
      expect(decodeObject(bytes, 'x').records).toEqual(Array.from({ length: 30 }, (_, i) => ({ n: i })));
    } finally {
      kinesis.destroy();
      s3.destroy();
      await servers.stop();
    }
  });
});
