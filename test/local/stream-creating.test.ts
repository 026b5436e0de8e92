/**
 * Adversary: a stream still CREATING when a reader starts. kinesalite lists no shards for it (AWS
 * refuses ListShards), and a local Firehose delivery or event-source mapping that took that empty
 * list polled nothing, forever, with no error: found as a test that timed out "waiting for the
 * delivery to park" when a loaded machine let the reader start before the stream was ACTIVE.
 * Here kinesalite keeps new streams CREATING for 400 ms, so the race is certain, not timing luck.
 */
import { CreateStreamCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStreamSummary, ensureStream, sendRecords } from '../../src/aws/kinesis.js';
import { listShardIds, ShardReader } from '../../src/local/shard-reader.js';
import { type LocalKinesis, startKinesalite } from '../factories/kinesalite.js';

const CREATING_MS = 400;
let local: LocalKinesis;

beforeAll(async () => {
  local = await startKinesalite({ createStreamMs: CREATING_MS });
});
afterAll(() => local.close());

describe('a stream still being created', () => {
  it('listShardIds waits for ACTIVE instead of returning no shards', async () => {
    await local.client.send(new CreateStreamCommand({ StreamName: 'creating-a', ShardCount: 2 }));
    expect((await describeStreamSummary(local.client, 'creating-a'))?.status).toBe('CREATING');
    expect(await listShardIds(local.client, 'creating-a')).toEqual([
      'shardId-000000000000',
      'shardId-000000000001',
    ]);
    expect((await describeStreamSummary(local.client, 'creating-a'))?.status).toBe('ACTIVE');
  });

  it('a reader started at creation reads what is put once the stream is ACTIVE', async () => {
    await local.client.send(new CreateStreamCommand({ StreamName: 'creating-b', ShardCount: 1 }));
    const [shard] = await listShardIds(local.client, 'creating-b');
    const reader = new ShardReader(local.client, 'creating-b', shard as string, { type: 'TRIM_HORIZON' });
    await sendRecords(
      local.client,
      'creating-b',
      Array.from({ length: 5 }, (_, i) => ({ data: Buffer.from(`r${i}`), partitionKey: `k${i}` })),
    );
    const { records } = await reader.read(100);
    expect(records.map((r) => Buffer.from(r.data).toString())).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('ensureStream returns once the stream it created (or found CREATING) is ACTIVE', async () => {
    expect(await ensureStream(local.client, 'creating-c', 1)).toEqual({ created: true, openShards: 1 });
    expect((await describeStreamSummary(local.client, 'creating-c'))?.status).toBe('ACTIVE');
    await local.client.send(new CreateStreamCommand({ StreamName: 'creating-d', ShardCount: 1 }));
    expect(await ensureStream(local.client, 'creating-d', 1)).toEqual({ created: false, openShards: 1 });
    expect((await describeStreamSummary(local.client, 'creating-d'))?.status).toBe('ACTIVE');
  });

  it('a stream that never appears is one clear error, not a hang', async () => {
    const { waitForStreamActive } = await import('../../src/aws/kinesis.js');
    await expect(waitForStreamActive(local.client, 'never-there', { maxWaitSeconds: 1 })).rejects.toThrow(
      /^stream never-there is not ACTIVE after 1 s$/,
    );
  });
});
