import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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
  startTestPipeline,
  type TestPipeline,
  tempDataDir,
} from '../helpers/local-pipeline.js';

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
  let p: TestPipeline | undefined;
  afterEach(async () => {
    await p?.cleanup();
    p = undefined;
  });

  it('with a 2 s interval writes one object per interval, not per record', async () => {
    p = await startTestPipeline({ bufferIntervalSeconds: 2, idlePollMs: 50 });
    const pipeline = p;
    const now = Date.now();
    const events = makeEvents(20, { startMs: now - 60_000, spanMs: 60_000, seed: 9 });
    const objectTimes: number[] = [];
    let seen = 0;
    const sampler = setInterval(() => {
      const n = pipeline.status().firehose.raw.objectsWritten;
      for (; seen < n; seen++) objectTimes.push(performance.now());
    }, 50);
    // A trickle: 10 puts of 2 records, 300 ms apart (about 3 s).
    for (let i = 0; i < 10; i++) {
      await sendEvents(pipeline, events.slice(i * 2, i * 2 + 2));
      await new Promise((r) => setTimeout(r, 300));
    }
    await pipeline.waitForIdle({ timeoutMs: 20_000 });
    clearInterval(sampler);
    const keys = await listKeys(pipeline.s3, pipeline.config.buckets.raw, 'data/');
    expect(keys.length).toBe(pipeline.status().firehose.raw.objectsWritten);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(keys.length).toBeLessThanOrEqual(4);
    // Each object holds the records of a whole interval, concatenated with no delimiter.
    let total = 0;
    for (const k of keys) {
      const bytes = await getObjectBytes(pipeline.s3, pipeline.config.buckets.raw, k);
      expect(Buffer.from(bytes).toString('utf8')).not.toContain('\n');
      total += decodeObject(bytes, k).records.length;
    }
    expect(total).toBe(events.length);
    for (let i = 1; i < objectTimes.length; i++) {
      expect((objectTimes[i] as number) - (objectTimes[i - 1] as number)).toBeGreaterThan(1500);
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
      while (crashedKey === undefined) await new Promise((r) => setTimeout(r, 20));
      await first.stop();
      expect(await listKeys(s3, config.buckets.raw, 'data/')).toEqual([crashedKey]);

      const second = make();
      await second.start();
      while (second.stats.objectsWritten === 0 || !second.isIdle())
        await new Promise((r) => setTimeout(r, 20));
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
