/**
 * `send`'s engine against real kinesalite, directly and through the fault proxy: every event sent
 * comes back from the stream exactly once, with the totals the summary claims.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisClient } from '../../../src/aws/clients.js';
import { readStream } from '../../../src/aws/stream-reader.js';
import { validateRecord } from '../../../src/domain/event.js';
import { generateEvents } from '../../../src/domain/generator.js';
import { generatedItems, runSend, type SendItem } from '../../../src/cli/send/send-run.js';
import { paced } from '../../../src/cli/send/pacer.js';
import { type FaultProxy, startFaultProxy } from '../../proxy/fault-proxy.js';
import { startTestServers, type TestServers } from '../../helpers/cli.js';

let env: TestServers;
let proxy: FaultProxy;
let stream: string;
let streamNo = 0;

beforeAll(async () => {
  env = await startTestServers();
  proxy = await startFaultProxy({ target: env.kinesisEndpoint, seed: 11 });
});
afterAll(async () => {
  await proxy?.close();
  await env?.close();
});

/** A fresh 2-shard stream per test, so read-backs see only that test's records. */
async function freshStream(): Promise<string> {
  const { CreateStreamCommand } = await import('@aws-sdk/client-kinesis');
  const name = `send-test-${++streamNo}`;
  await env.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
  return name;
}

async function readAll(name: string): Promise<Array<{ data: string; shardId: string }>> {
  const out: Array<{ data: string; shardId: string }> = [];
  for await (const r of readStream(env.kinesis, name, {
    position: { type: 'trim-horizon' },
    minIntervalMs: 0,
  })) {
    out.push({ data: Buffer.from(r.data).toString('utf8'), shardId: r.shardId });
  }
  return out;
}

const fixedClock = (): number => 1_705_317_000_000;

describe('runSend against kinesalite', () => {
  it('sends every generated event once, and the totals add up to what is on the stream', async () => {
    stream = await freshStream();
    const res = await runSend(env.kinesis, stream, generatedItems({ seed: 42, clock: fixedClock }), {
      count: 2345,
    });
    expect(res).toMatchObject({
      pulled: 2345,
      sent: 2345,
      failed: 0,
      retried: 0,
      invalid: 0,
      interrupted: false,
    });
    // Batches of ≤ 500: at least 5 requests.
    expect(res.requests).toBeGreaterThanOrEqual(5);

    const back = await readAll(stream);
    expect(back).toHaveLength(2345);
    expect(new Set(back.map((b) => b.shardId)).size).toBe(2);
    // The same seed regenerated independently: the same events, byte for byte.
    const expected: string[] = [];
    for (const r of generateEvents({ seed: 42, nowMs: fixedClock() })) {
      if (r.kind !== 'event') continue;
      expected.push(JSON.stringify({ ...r.event, amountMinor: undefined }));
      if (expected.length === 2345) break;
    }
    expect(back.map((b) => b.data).sort()).toEqual(expected.sort());

    // Totals recomputed from what the stream holds.
    const fromStream = new Map<string, { count: number; totalMinor: number }>();
    for (const b of back) {
      const v = validateRecord(Buffer.from(b.data), { arrivalMs: fixedClock(), maxFutureSkewMs: 0 });
      if (!v.ok) throw new Error(v.detail);
      const t = fromStream.get(v.event.currency) ?? { count: 0, totalMinor: 0 };
      t.count++;
      t.totalMinor += v.event.amountMinor;
      fromStream.set(v.event.currency, t);
    }
    expect(Object.fromEntries(res.totals)).toEqual(Object.fromEntries(fromStream));
    expect(res.minEventMs).toBe(fixedClock());
  });

  it('with a messy scenario counts exactly the records the aggregator will reject as invalid', async () => {
    const name = await freshStream();
    const res = await runSend(
      env.kinesis,
      name,
      generatedItems({
        seed: 5,
        clock: fixedClock,
        scenario: { malformedShare: 0.1, duplicateShare: 0.1, lateShare: 0.2 },
      }),
      { count: 1500 },
    );
    expect(res.sent).toBe(1500);
    const back = await readAll(name);
    const rejected = back.filter(
      (b) =>
        !validateRecord(Buffer.from(b.data), { arrivalMs: fixedClock(), maxFutureSkewMs: 86_400_000 }).ok,
    ).length;
    expect(rejected).toBeGreaterThan(50);
    expect(res.invalid).toBe(rejected);
    // Duplicates are real records: counted in the totals like the aggregator counts them.
    const counted = [...res.totals.values()].reduce((s, t) => s + t.count, 0);
    expect(counted).toBe(1500 - rejected);
    const ids = back.flatMap((b) => {
      const v = validateRecord(Buffer.from(b.data), { arrivalMs: fixedClock(), maxFutureSkewMs: 86_400_000 });
      return v.ok ? [v.event.transaction_id] : [];
    });
    expect(new Set(ids).size).toBeLessThan(ids.length);
  });

  it('survives partial PutRecords failures, throttles, 500/503 and resets: all events land, none twice', async () => {
    const name = await freshStream();
    proxy.setRules([
      // Each kind of request-level fault a few times, then partial failures on most requests.
      {
        match: { operation: 'PutRecords' },
        action: { status: 503, flavour: 'kinesis' },
        share: 0.3,
        times: 3,
      },
      {
        match: { operation: 'PutRecords' },
        action: { status: 500, flavour: 'kinesis' },
        share: 0.3,
        times: 3,
      },
      {
        match: { operation: 'PutRecords' },
        action: { status: 400, flavour: 'kinesis' },
        share: 0.3,
        times: 3,
      },
      { match: { operation: 'PutRecords' }, action: { reset: true }, share: 0.3, times: 3 },
      { match: { operation: 'PutRecords' }, action: { delayMs: 30 }, share: 0.2, times: 5 },
      { match: { operation: 'PutRecords' }, action: { failEntries: 0.3 }, share: 0.8 },
    ]);
    const client = await kinesisClient({
      kind: 'local',
      region: env.config.region,
      kinesisEndpoint: proxy.url,
      s3Endpoint: env.s3Endpoint,
    });
    try {
      const items: SendItem[] = [];
      const res = await runSend(
        client,
        name,
        (function* () {
          for (const it of generatedItems({ seed: 9, clock: fixedClock })) {
            items.push(it);
            yield it;
          }
        })(),
        { count: 4000, concurrency: 6, maxAttempts: 30 },
      );
      expect(res.failed).toBe(0);
      expect(res.sent).toBe(4000);
      expect(res.retried).toBeGreaterThan(0);
      expect(res.throttled).toBeGreaterThan(0);
      expect(proxy.stats.failedEntries).toBeGreaterThan(0);
      expect(
        proxy.stats.fired.every((n) => n > 0),
        `rules fired ${proxy.stats.fired}`,
      ).toBe(true);

      const back = (await readAll(name)).map((b) => b.data);
      expect(back).toHaveLength(4000);
      expect(new Set(back).size).toBe(4000);
      expect(back.sort()).toEqual(items.map((i) => Buffer.from(i.data).toString('utf8')).sort());
    } finally {
      proxy.setRules([]);
      client.destroy();
    }
  });

  it('hands back what stays unsent, and leaves it out of the totals', async () => {
    const name = await freshStream();
    proxy.setRules([{ match: { operation: 'PutRecords' }, action: { failEntries: 1 }, after: 1 }]);
    const client = await kinesisClient({
      kind: 'local',
      region: env.config.region,
      kinesisEndpoint: proxy.url,
      s3Endpoint: env.s3Endpoint,
    });
    try {
      // One request of 500 gets through; every later entry fails on every attempt.
      const res = await runSend(client, name, generatedItems({ seed: 3, clock: fixedClock }), {
        count: 1200,
        concurrency: 1,
        maxAttempts: 2,
      });
      expect(res.sent).toBe(500);
      expect(res.failed).toBe(700);
      expect(res.failedRecords).toHaveLength(700);
      const counted = [...res.totals.values()].reduce((s, t) => s + t.count, 0);
      expect(counted).toBe(500);
      const back = (await readAll(name)).map((b) => b.data);
      expect(back).toHaveLength(500);
      const unsent = new Set(res.failedRecords.map((f) => Buffer.from(f.record.data).toString('utf8')));
      expect(back.some((d) => unsent.has(d))).toBe(false);
    } finally {
      proxy.setRules([]);
      client.destroy();
    }
  });
});

describe('readStream', () => {
  it('reads a resharded stream across closed parents and their children, every record once', async () => {
    const { CreateStreamCommand, SplitShardCommand, waitUntilStreamExists } = await import(
      '@aws-sdk/client-kinesis'
    );
    const { sendRecords } = await import('../../../src/aws/kinesis-sender.js');
    const name = `reshard-${++streamNo}`;
    await env.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    // CreateStream is asynchronous: wait for ACTIVE (a loaded machine lost this race).
    await waitUntilStreamExists(
      { client: env.kinesis, maxWaitTime: 30, minDelay: 1 },
      {
        StreamName: name,
      },
    );
    const put = (from: number) =>
      sendRecords(
        env.kinesis,
        name,
        Array.from({ length: 100 }, (_, i) => ({
          data: Buffer.from(String(from + i)),
          partitionKey: `p${from + i}`,
        })),
      );
    await put(0);
    await env.kinesis.send(
      new SplitShardCommand({
        StreamName: name,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    // Resharding is asynchronous too: wait for ACTIVE again (a deadline that fails, not a fixed count).
    await waitUntilStreamExists({ client: env.kinesis, maxWaitTime: 30, minDelay: 1 }, { StreamName: name });
    await put(100);
    const got: string[] = [];
    const shards = new Set<string>();
    for await (const r of readStream(env.kinesis, name, {
      position: { type: 'trim-horizon' },
      minIntervalMs: 0,
    })) {
      got.push(Buffer.from(r.data).toString('utf8'));
      shards.add(r.shardId);
    }
    expect(got).toHaveLength(200);
    expect(new Set(got).size).toBe(200);
    expect(shards.size).toBeGreaterThanOrEqual(2);
    // LATEST skips the closed parent and reads nothing old.
    const latest: unknown[] = [];
    for await (const r of readStream(env.kinesis, name, { position: { type: 'latest' }, minIntervalMs: 0 }))
      latest.push(r);
    expect(latest).toEqual([]);
  });
});

describe('paced', () => {
  it('releases item n at start + n/rate on the given clock, without drift', async () => {
    let t = 1000;
    const releasedAt: number[] = [];
    const sleep = async (ms: number): Promise<void> => {
      t += ms;
    };
    for await (const _ of paced([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { rate: 4, now: () => t, sleep })) {
      releasedAt.push(t);
      t += 3; // work per item
    }
    // 4/s → due at 0, 250, 500, … ms after the first item.
    expect(releasedAt.map((x) => x - 1000)).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250]);
  });

  it('honours a byte budget as well as a record rate', async () => {
    let t = 0;
    const releasedAt: number[] = [];
    for await (const _ of paced([100, 100, 100, 100], {
      rate: 1000,
      byteRate: 200,
      bytesOf: (n) => n,
      now: () => t,
      sleep: async (ms) => {
        t += ms;
      },
    })) {
      releasedAt.push(t);
    }
    expect(releasedAt).toEqual([0, 500, 1000, 1500]);
  });
});
