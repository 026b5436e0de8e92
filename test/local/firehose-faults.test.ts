/**
 * The Firehose emulator under faults, against real kinesalite and s3rver:
 * - the bucket deleted while it runs: deliveries park with the reason, nothing more is read (the
 *   records wait on the stream, memory stays flat), and they resume on their own once the bucket
 *   is back — every record delivered once;
 * - abandon() (a stop's deadline): the object in flight and the buffer go to pending files, the
 *   checkpoints move past them, and the next start delivers them first under the same keys;
 * - the adversary picks the moment: abandoned or crashed at a random time, with or without the
 *   bucket, then restarted — every record ends up in S3 exactly once (objects under different keys
 *   never share a record; a rewrite of the same key is the same object).
 */
import { CreateBucketCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { CreateStreamCommand } from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { sendRecords } from '../../src/aws/kinesis-sender.js';
import { getObjectBytes, listKeys } from '../../src/aws/s3-objects.js';
import { decodeObject } from '../../src/pipeline/codec.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { localTarget } from '../../src/local/endpoints.js';
import { FirehoseDelivery } from '../../src/local/firehose.js';
import { type LocalServers, startLocalServers } from '../../src/local/servers.js';
import { tempDataDir } from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

const config = resolveConfig({});
const dataDir = tempDataDir('firehose-faults');
let servers: LocalServers;
let kinesis: KinesisClient;
let s3: S3Client;
let n = 0;

beforeAll(async () => {
  servers = await startLocalServers({ dataDir, region: config.region });
  const target = localTarget({ region: config.region, ...servers });
  kinesis = await kinesisClient(target);
  s3 = await s3Client(target);
});

afterAll(async () => {
  kinesis?.destroy();
  s3?.destroy();
  await servers?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = <T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> => waitFor(f, what, ms);

/** A fresh stream (2 shards) and bucket name, with its own state and pending dirs. */
async function fixture(o: { bucket: boolean }) {
  const id = `${process.pid}-${++n}`;
  const stream = `ff-stream-${id}`;
  const bucket = `ff-bucket-${id}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  if (o.bucket) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  let sent = 0;
  return {
    stream,
    bucket,
    stateFile: join(dataDir, `state-${id}.json`),
    pendingDir: join(dataDir, `pending-${id}`),
    /** Puts `count` records `{n}` (n counting on from the last call). */
    send: async (count: number): Promise<void> => {
      const records = Array.from({ length: count }, (_, i) => ({
        data: Buffer.from(JSON.stringify({ n: sent + i })),
        partitionKey: `k${sent + i}`,
      }));
      sent += count;
      const r = await sendRecords(kinesis, stream, records);
      expect(r.failed).toBe(0);
    },
    /** Every record in the bucket, per object. */
    objects: async (): Promise<Map<string, number[]>> => {
      const out = new Map<string, number[]>();
      for (const key of await listKeys(s3, bucket, '')) {
        const d = decodeObject(await getObjectBytes(s3, bucket, key), key);
        out.set(
          key,
          d.records.map((r) => (r as { n: number }).n),
        );
      }
      return out;
    },
  };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

function delivery(
  f: Fixture,
  o: { intervalSeconds: number; parkedRetryMs?: number; onObject?: (key: string) => void },
) {
  return new FirehoseDelivery({
    kinesis,
    s3,
    sourceStream: f.stream,
    bucket: f.bucket,
    settings: { ...config.firehose.analytics, prefix: 'out/', bufferIntervalSeconds: o.intervalSeconds },
    stateFile: f.stateFile,
    pendingDir: f.pendingDir,
    idlePollMs: 20,
    maxIdlePollMs: 50,
    parkedRetryMs: o.parkedRetryMs ?? 100,
    ...(o.onObject === undefined ? {} : { onObject: o.onObject }),
  });
}

/** Every n in 0..count-1 exactly once across all objects. */
function expectExactlyOnce(objects: Map<string, number[]>, count: number): void {
  const all = [...objects.values()].flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
}

describe('Firehose delivery to a deleted bucket', () => {
  it('parks with the reason, reads nothing more, and resumes once the bucket is back', async () => {
    const f = await fixture({ bucket: true });
    await s3.send(new DeleteBucketCommand({ Bucket: f.bucket }));
    const d = delivery(f, { intervalSeconds: 0 });
    await d.start();
    try {
      await f.send(40);
      const parked = await until('the delivery to park', () => d.parked());
      expect(parked).toMatchObject({ kind: 'bucket-missing', bucket: f.bucket });
      expect(parked.reason).toBe(`bucket ${f.bucket} does not exist`);
      expect(d.bufferedRecords()).toBeGreaterThan(0);

      // While parked nothing more is taken from the stream: the new records wait there.
      const read = d.stats.recordsIn;
      await f.send(25);
      const errors = d.stats.deliveryErrors;
      await until('three more refused attempts', () => d.stats.deliveryErrors >= errors + 3);
      expect(d.stats.recordsIn).toBe(read);
      expect(d.parked()).toBeDefined();

      await s3.send(new CreateBucketCommand({ Bucket: f.bucket }));
      await until('every record delivered', () => d.stats.recordsDelivered === 65 && d.isIdle());
      expect(d.parked()).toBeUndefined();
      expectExactlyOnce(await f.objects(), 65);
    } finally {
      await d.stop();
    }
  });
});

describe('Firehose abandon (a stop that cannot wait)', () => {
  it('persists the parked object; the next start delivers it first, then the rest from the stream', async () => {
    const f = await fixture({ bucket: false });
    const d1 = delivery(f, { intervalSeconds: 0 });
    await d1.start();
    await f.send(40);
    const parked = await until('the delivery to park', () => d1.parked());
    const inHand = d1.bufferedRecords();
    await f.send(25);
    const report = d1.abandon();
    await d1.stop();
    expect(report).toMatchObject({ records: inHand, objects: 1, dir: f.pendingDir, reason: parked.reason });
    expect(report.unsaved).toBeUndefined();
    const files = readdirSync(f.pendingDir);
    expect(files).toHaveLength(1);
    const saved = JSON.parse(readFileSync(join(f.pendingDir, files[0] as string), 'utf8')) as {
      key: string;
      records: unknown[];
    };
    expect(saved.records).toHaveLength(inHand);
    // The checkpoints moved past what was saved: the state holds no in-flight object any more.
    expect(JSON.parse(readFileSync(f.stateFile, 'utf8')).inFlight).toBeUndefined();

    await s3.send(new CreateBucketCommand({ Bucket: f.bucket }));
    const written: string[] = [];
    const d2 = delivery(f, { intervalSeconds: 0, onObject: (k) => written.push(k) });
    await d2.start();
    try {
      await until('everything delivered', () => d2.stats.recordsDelivered === 65 && d2.isIdle());
      expect(written[0]).toBe(saved.key);
      expect(readdirSync(f.pendingDir)).toEqual([]);
      expectExactlyOnce(await f.objects(), 65);
    } finally {
      await d2.stop();
    }
  });

  it('persists a buffer still waiting for its interval', async () => {
    const f = await fixture({ bucket: true });
    const d1 = delivery(f, { intervalSeconds: 600 });
    await d1.start();
    await f.send(30);
    await until('the buffer to fill', () => d1.stats.recordsIn === 30);
    const report = d1.abandon();
    await d1.stop();
    expect(report).toMatchObject({ records: 30, objects: 1 });
    expect(await f.objects()).toEqual(new Map());

    const d2 = delivery(f, { intervalSeconds: 0 });
    await d2.start();
    try {
      await f.send(10);
      await until('everything delivered', () => d2.stats.recordsDelivered === 40 && d2.isIdle());
      expectExactlyOnce(await f.objects(), 40);
    } finally {
      await d2.stop();
    }
  });

  it('a damaged pending file is refused by name, not skipped', async () => {
    const f = await fixture({ bucket: true });
    const d1 = delivery(f, { intervalSeconds: 600 });
    await d1.start();
    await f.send(5);
    await until('the buffer to fill', () => d1.stats.recordsIn === 5);
    d1.abandon();
    await d1.stop();
    const file = join(f.pendingDir, readdirSync(f.pendingDir)[0] as string);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length / 2));
    await expect(delivery(f, { intervalSeconds: 0 }).start()).rejects.toMatchObject({
      code: 'DATA',
      message: expect.stringContaining(`${file} is corrupt`),
    });
    expect(existsSync(file)).toBe(true);
  });
});

describe('Firehose stopped at a moment the adversary picks', () => {
  it('abandoned or crashed at any time, with or without the bucket, then restarted: every record once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          count: fc.integer({ min: 1, max: 300 }),
          chunks: fc.integer({ min: 1, max: 4 }),
          how: fc.constantFrom('abandon', 'crash'),
          bucketMissing: fc.boolean(),
          interval: fc.constantFrom(0, 1),
          stopAfterMs: fc.integer({ min: 0, max: 1200 }),
        }),
        async (c) => {
          const f = await fixture({ bucket: !c.bucketMissing });
          const d1 = delivery(f, { intervalSeconds: c.interval });
          await d1.start();
          const per = Math.ceil(c.count / c.chunks);
          for (let sent = 0; sent < c.count; sent += per) await f.send(Math.min(per, c.count - sent));
          await sleep(c.stopAfterMs); // a random stop moment: the timing is the property's input
          if (c.how === 'abandon') d1.abandon();
          else d1.crash();
          await d1.stop();
          if (c.bucketMissing) await s3.send(new CreateBucketCommand({ Bucket: f.bucket }));
          const d2 = delivery(f, { intervalSeconds: 0 });
          await d2.start();
          try {
            await until('every record in S3', async () => {
              if (!d2.isIdle()) return false;
              const all = [...(await f.objects()).values()].flat();
              return new Set(all).size === c.count;
            });
            expectExactlyOnce(await f.objects(), c.count);
          } finally {
            await d2.stop();
          }
        },
      ),
      { numRuns: 10, seed: 1818 },
    );
  }, 180_000);
});
