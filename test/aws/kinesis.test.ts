/**
 * src/aws/kinesis.ts: stream facts (describe, ensure, every shard) and reading across a reshard,
 * against real kinesalite; ListShards paging against a fake, because kinesalite ignores
 * MaxResults. The sender (kinesis-sender.ts) has its own tests.
 */
import {
  KinesisClient,
  ListShardsCommand,
  type ListShardsCommandInput,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeStreamSummary,
  ensureStream,
  listShards,
  readStream,
  sendRecords,
} from '../../src/aws/kinesis.js';
import { type LocalKinesis, startKinesalite } from '../factories/kinesalite.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe('stream facts against kinesalite', () => {
  let local: LocalKinesis;
  beforeAll(async () => {
    local = await startKinesalite();
  });
  afterAll(() => local.close());

  it('describeStreamSummary: status, shards and ARN of a stream; undefined for a missing one', async () => {
    await local.createStream('facts-a', 3);
    expect(await describeStreamSummary(local.client, 'facts-a')).toMatchObject({
      name: 'facts-a',
      status: 'ACTIVE',
      openShards: 3,
      arn: expect.stringMatching(/:stream\/facts-a$/),
    });
    expect(await describeStreamSummary(local.client, 'facts-missing')).toBeUndefined();
  });

  it('ensureStream creates once and never recreates or reshards an existing stream', async () => {
    expect(await ensureStream(local.client, 'facts-b', 2)).toEqual({ created: true, openShards: 2 });
    // Asked again with another count (a changed --shards): the stream is kept as it is.
    expect(await ensureStream(local.client, 'facts-b', 5)).toEqual({ created: false, openShards: 2 });
    // Two at once (two `paypipe up` racing): exactly one creates it.
    const both = await Promise.all([
      ensureStream(local.client, 'facts-c', 1),
      ensureStream(local.client, 'facts-c', 1),
    ]);
    expect(both.filter((r) => r.created)).toHaveLength(1);
    expect((await describeStreamSummary(local.client, 'facts-c'))?.openShards).toBe(1);
  });

  it('listShards and readStream see a reshard: the parent closed, its children read too', async () => {
    await local.createStream('facts-split', 1);
    const put = (i: number) => ({ data: enc(`r${i}`), partitionKey: `k${i}` });
    await sendRecords(
      local.client,
      'facts-split',
      Array.from({ length: 20 }, (_, i) => put(i)),
    );
    const [parent] = await listShards(local.client, 'facts-split');
    await local.client.send(
      new SplitShardCommand({
        StreamName: 'facts-split',
        ShardToSplit: parent?.shardId,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await sendRecords(
      local.client,
      'facts-split',
      Array.from({ length: 20 }, (_, i) => put(20 + i)),
    );
    const shards = await listShards(local.client, 'facts-split');
    expect(shards.filter((s) => s.closed).map((s) => s.shardId)).toEqual([parent?.shardId]);
    expect(shards.filter((s) => s.parentShardId === parent?.shardId)).toHaveLength(2);
    const seen: string[] = [];
    for await (const r of readStream(local.client, 'facts-split', { position: { type: 'trim-horizon' } })) {
      seen.push(Buffer.from(r.data).toString());
    }
    expect(seen.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `r${i}`).sort());
  });
});

describe('listShards paging (faked ListShards: kinesalite ignores MaxResults)', () => {
  // Mocked for this block only: the blocks above talk to kinesalite through the same client class.
  let kinesis: ReturnType<typeof mockClient>;
  beforeAll(() => {
    kinesis = mockClient(KinesisClient);
  });
  afterAll(() => kinesis.restore());

  /** ListShards as AWS documents it: StreamName OR NextToken, never both; pages of MaxResults (default 1,000). */
  const fakeStream = (count: number, calls: ListShardsCommandInput[]) => {
    kinesis.reset();
    kinesis.on(ListShardsCommand).callsFake((i: ListShardsCommandInput) => {
      calls.push(i);
      if (i.StreamName !== undefined && i.NextToken !== undefined) {
        throw Object.assign(new Error('NextToken and StreamName cannot be provided together.'), {
          name: 'InvalidArgumentException',
        });
      }
      const from = i.NextToken === undefined ? 0 : Number(i.NextToken);
      const to = Math.min(count, from + (i.MaxResults ?? 1000));
      return {
        Shards: Array.from({ length: to - from }, (_, k) => ({
          ShardId: `shardId-${String(from + k).padStart(12, '0')}`,
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '1' },
          SequenceNumberRange: { StartingSequenceNumber: '1' },
        })),
        ...(to < count ? { NextToken: String(to) } : {}),
      };
    });
  };

  it('lists every shard exactly once, in order, never sending StreamName with a token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2500 }),
        fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        async (count, pageSize) => {
          const calls: ListShardsCommandInput[] = [];
          fakeStream(count, calls);
          const client = new KinesisClient({ region: 'ap-southeast-2' });
          const shards = await listShards(client, 'many', pageSize === undefined ? {} : { pageSize });
          expect(shards.map((s) => s.shardId)).toEqual(
            Array.from({ length: count }, (_, k) => `shardId-${String(k).padStart(12, '0')}`),
          );
          expect(calls).toHaveLength(Math.max(1, Math.ceil(count / (pageSize ?? 1000))));
          expect(calls.every((c) => c.StreamName === undefined || c.NextToken === undefined)).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });
});
