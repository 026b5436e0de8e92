/**
 * No silent loss, end to end on the local pipeline (real kinesalite and s3rver behind fault
 * proxies, the real aggregator, the event source mapping emulator, both Firehoses).
 *
 * Adversary 1 — an outage of the output side longer than the old record age (1 h): the output
 * stream rejects every aggregate while the pipeline's clock moves 2 h on, the pipeline is even
 * restarted meanwhile; when the output comes back, every payment is in the totals and nothing went
 * to the failure destination. The same run with the old settings (3 retries, 1 h age) loses data.
 *
 * Adversary 2 — a permanent failure with partial output: dead-letter writes fail for longer than
 * the retries, after each attempt's aggregates already reached the output. The batches go to the
 * failure destination; `paypipe redrive` (dry run first, then for real, then again, then after its
 * own bookkeeping is lost) replays them through the aggregator and the merged totals are exact,
 * every bad record dead-lettered once. Batches past the stream's retention are reported with their
 * raw archive prefixes, and the AWS path (the SQS queue, faked; the stream is kinesalite) deletes
 * what it replayed and hands back the rest.
 *
 * startLocalPipeline has no endpoint hook, so the servers module is wrapped (as in
 * test/fault/pipeline.test.ts): real servers, a proxy in front of each; the test's own clients
 * talk to the servers directly.
 */
import { rmSync } from 'node:fs';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ListShardsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { kinesisClient, s3Client } from '../../../src/aws/clients.js';
import { failedRedriveError, renderRedrive, runRedrive } from '../../../src/cli/redrive/redrive.js';
import { localTarget } from '../../../src/local/endpoints.js';
import {
  type FailedBatchRecord,
  appendFailedBatch,
  listFailedBatches,
  listRedriven,
  pendingFailedBatches,
  redrivenFile,
} from '../../../src/local/failed-batches.js';
import type { LocalServers } from '../../../src/local/servers.js';
import { sendRecords } from '../../../src/aws/kinesis-sender.js';
import { serializeEvent, type WireEvent } from '../../../src/domain/event.js';
import { mergeRecords } from '../../../src/domain/exact-merge.js';
import { readRecords } from '../../../src/aws/s3-objects.js';
import { STACK_OUTPUT_KEYS } from '../../../src/infra/output-keys.js';
import {
  type Cell,
  expectedCells,
  makeEvents,
  startTestPipeline,
  type TestPipeline,
  tempDataDir,
  toCells,
} from '../../helpers/local-pipeline.js';
import { waitFor as waitForCondition } from '../../helpers/wait-for.js';
import { quietIo } from '../../helpers/io.js';
import type { FaultProxy, FaultRule } from '../../proxy/fault-proxy.js';

const shared = vi.hoisted(() => ({
  real: undefined as { kinesis: string; s3: string } | undefined,
  kinesisProxy: undefined as FaultProxy | undefined,
  s3Proxy: undefined as FaultProxy | undefined,
  /** Rules a new proxy starts with (so a restart comes up with the output still down). */
  kinesisRules: [] as FaultRule[],
  s3Rules: [] as FaultRule[],
}));

vi.mock('../../../src/local/servers.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/local/servers.js')>();
  const { startFaultProxy } = await import('../../proxy/fault-proxy.js');
  return {
    ...real,
    startLocalServers: async (o: Parameters<typeof real.startLocalServers>[0]): Promise<LocalServers> => {
      const s = await real.startLocalServers(o);
      const kp = await startFaultProxy({ target: s.kinesisEndpoint, rules: shared.kinesisRules, seed: 3 });
      const sp = await startFaultProxy({ target: s.s3Endpoint, rules: shared.s3Rules, seed: 4 });
      shared.real = { kinesis: s.kinesisEndpoint, s3: s.s3Endpoint };
      shared.kinesisProxy = kp;
      shared.s3Proxy = sp;
      const close = async (): Promise<void> => {
        await Promise.all([kp.close(), sp.close()]);
      };
      return {
        kinesisEndpoint: kp.url,
        s3Endpoint: sp.url,
        pid: s.pid,
        exited: s.exited,
        stop: async () => {
          await s.stop();
          await close();
        },
        kill: async () => {
          await s.kill();
          await close();
        },
      };
    },
  };
});

/** Every aggregate put on the output stream fails (the request succeeds, each entry is refused). */
const OUTPUT_DOWN: FaultRule[] = [
  { match: { operation: 'PutRecords' }, action: { failEntries: 1, errorCode: 'InternalFailure' } },
];
/**
 * Dead-letter objects cannot be written; everything else in S3 works. A 500 InternalError, not a
 * 503 SlowDown: the SDK backs off from a throttle from 500 ms instead of 100 ms, and every refused
 * write runs the SDK's five attempts, so SlowDown made this suite's setup ~40 s instead of ~15 s
 * while proving the same thing (the write fails whatever the SDK retries; the batch is given up on).
 */
const DEAD_LETTERS_DOWN: FaultRule[] = [
  { match: { method: 'PUT', path: /\/dead-letters\// }, action: { status: 500, flavour: 's3' } },
];

const waitFor = async (what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> => {
  await waitForCondition(cond, what, timeoutMs, 50);
};

/** Clients on the real servers (not through the proxies). */
async function direct(p: TestPipeline) {
  const real = shared.real;
  if (real === undefined) throw new Error('the servers wrapper did not run');
  const target = localTarget({ region: p.config.region, kinesisEndpoint: real.kinesis, s3Endpoint: real.s3 });
  return { kinesis: await kinesisClient(target), s3: await s3Client(target) };
}

async function send(p: TestPipeline, records: Array<{ data: string; partitionKey: string }>): Promise<void> {
  const c = await direct(p);
  try {
    const s = await sendRecords(
      c.kinesis,
      p.config.streams.input.name,
      records.map((r) => ({ data: Buffer.from(r.data), partitionKey: r.partitionKey })),
    );
    expect(s.failed).toBe(0);
  } finally {
    c.kinesis.destroy();
    c.s3.destroy();
  }
}

const asRecords = (events: readonly WireEvent[]) =>
  events.map((e) => ({ data: serializeEvent(e), partitionKey: e.transaction_id }));

async function merged(p: TestPipeline): Promise<{ cells: Cell[]; conflicts: number }> {
  const c = await direct(p);
  try {
    const { records, errors } = await readRecords(c.s3, p.config.buckets.analytics, 'aggregations/');
    expect(errors).toEqual([]);
    const m = mergeRecords(records);
    expect(m.invalidSamples).toEqual([]);
    return {
      cells: toCells(m.aggregates),
      // Figures that disagree (a gap is not one: it is what a failed batch leaves until redriven).
      conflicts: m.issues.filter((i) => i.kind !== 'gap').length,
    };
  } finally {
    c.kinesis.destroy();
    c.s3.destroy();
  }
}

async function deadLetterSequences(p: TestPipeline): Promise<string[]> {
  const c = await direct(p);
  try {
    const { records } = await readRecords(
      c.s3,
      p.config.buckets.analytics,
      p.config.aggregator.deadLetterPrefix,
    );
    return (records as Array<{ sequence_number: string }>).map((r) => r.sequence_number).sort();
  } finally {
    c.kinesis.destroy();
    c.s3.destroy();
  }
}

afterEach(() => {
  shared.kinesisRules = [];
  shared.s3Rules = [];
});

describe('an outage of the output side longer than the old record age', () => {
  const HOURS_2 = 2 * 3_600_000;

  async function outage(configOverrides: Record<string, number>, dataDir: string) {
    let offset = 0;
    const now = () => Date.now() + offset;
    shared.kinesisRules = OUTPUT_DOWN;
    let p = await startTestPipeline({
      dataDir,
      now,
      configOverrides: { shardCount: 2, batchSize: 100, ...configOverrides },
    });
    const events = makeEvents(300, { startMs: Date.now() - 120_000, spanMs: 120_000, seed: 11 });
    await send(p, asRecords(events));
    await waitFor('a first failed attempt', () => p.status().aggregator.partialFailures >= 1);
    // The outage outlasts the old maximum record age.
    offset = HOURS_2;
    return { events, pipeline: () => p, setPipeline: (x: TestPipeline) => (p = x), now };
  }

  it('loses nothing: retried through the outage and a restart, nothing to the failure destination', async () => {
    const dataDir = tempDataDir('no-loss');
    try {
      const o = await outage({}, dataDir);
      let p = o.pipeline();
      const before = p.status().aggregator.partialFailures;
      await waitFor(
        'two more attempts after the clock moved on',
        () => p.status().aggregator.partialFailures >= before + 2,
      );
      expect(p.status().failedBatches).toBe(0);
      expect(p.status().aggregator.expiredRecords).toBe(0);
      // A clean stop while the output is still down ends promptly and leaves the batch in flight.
      const stopStarted = Date.now();
      await p.stop({ flush: true });
      expect(Date.now() - stopStarted).toBeLessThan(15_000);
      // Restart with the output still down: the in-flight batch comes back first.
      p = await startTestPipeline({
        dataDir,
        now: o.now,
        configOverrides: { shardCount: 2, batchSize: 100 },
      });
      o.setPipeline(p);
      await waitFor('the restarted pipeline retrying', () => p.status().aggregator.partialFailures >= 1);
      expect(p.status().aggregator.recoveredInFlight).toBeGreaterThanOrEqual(1);
      // The output comes back.
      shared.kinesisProxy?.setRules([]);
      await p.waitForIdle({ timeoutMs: 90_000, flush: true });
      const m = await merged(p);
      expect(m.cells).toEqual(expectedCells(o.events, 60));
      expect(m.conflicts).toBe(0);
      expect(await listFailedBatches(dataDir)).toEqual([]);
      await p.cleanup();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('(the old settings, 3 retries and a 1 h record age, lose data in the same outage)', async () => {
    const dataDir = tempDataDir('old-loss');
    try {
      const o = await outage({ retryAttempts: 3, maxRecordAgeSeconds: 3600 }, dataDir);
      const p = o.pipeline();
      await waitFor('a batch given up on', () => p.status().failedBatches >= 1);
      shared.kinesisProxy?.setRules([]);
      await p.waitForIdle({ timeoutMs: 90_000, flush: true });
      const failed = await listFailedBatches(dataDir);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed.map((f) => f.requestContext.condition)).toContain('RecordAgeExceeded');
      const m = await merged(p);
      const sent = failed.reduce((n, f) => n + f.KinesisBatchInfo.batchSize, 0);
      const counted = m.cells.reduce((n, c) => n + c.transaction_count, 0);
      expect(counted).toBe(o.events.length - sent);
      await p.cleanup();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('a forced permanent failure, then paypipe redrive', () => {
  let p: TestPipeline;
  let dataDir: string;
  let events: WireEvent[];
  let badSequences: string[];

  beforeAll(async () => {
    dataDir = tempDataDir('redrive');
    shared.s3Rules = DEAD_LETTERS_DOWN;
    p = await startTestPipeline({
      dataDir,
      configOverrides: { shardCount: 2, batchSize: 50, retryAttempts: 1 },
    });
    events = makeEvents(400, { startMs: Date.now() - 180_000, spanMs: 180_000, seed: 21 });
    // A bad record now and then: each batch that holds one writes a dead-letter object.
    const records = asRecords(events);
    const bad = Array.from({ length: 6 }, (_, i) => ({
      data: `{"not": "a payment ${i}"}`,
      partitionKey: `BAD${i}`,
    }));
    for (const [i, b] of bad.entries()) records.splice(40 + i * 60, 0, b);
    await send(p, records);
    await waitFor('failed batches', () => p.status().failedBatches >= 1, 90_000);
    await p.waitForIdle({ timeoutMs: 90_000, flush: true });
    // The dead-letter store works again; the failed batches wait in the failure destination.
    shared.s3Proxy?.setRules([]);
    const c = await direct(p);
    const shards = await c.kinesis.send(new ListShardsCommand({ StreamName: p.config.streams.input.name }));
    expect(shards.Shards?.length).toBe(2);
    c.kinesis.destroy();
    c.s3.destroy();
    badSequences = [];
  }, 240_000);

  afterAll(async () => {
    await p?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the failed batches are in the failure destination, and their aggregates are short without them', async () => {
    const failed = await listFailedBatches(dataDir);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) {
      expect(f.requestContext.condition).toBe('RetryAttemptsExhausted');
      expect(f.KinesisBatchInfo.startSequenceNumber).toMatch(/^\d+$/);
    }
    const m = await merged(p);
    // Each failed attempt's aggregates reached the output (partial output), but carry the same
    // ids, so merging counts them once…
    expect(m.conflicts).toBe(0);
    // …and the dead letters of those batches were never written.
    expect((await deadLetterSequences(p)).length).toBeLessThan(6);
  });

  it('--dry-run says what would be replayed and changes nothing', async () => {
    const before = await merged(p);
    const r = await runRedrive({ local: true, dataDir, dryRun: true }, quietIo());
    expect(r.dryRun).toBe(true);
    expect(r.batches.length).toBe((await listFailedBatches(dataDir)).length);
    expect(r.batches.every((b) => b.status === 'would-replay')).toBe(true);
    expect(failedRedriveError(r)).toBeUndefined();
    expect((await pendingFailedBatches(dataDir)).length).toBe(r.batches.length);
    await p.waitForIdle({ timeoutMs: 30_000, flush: true });
    expect(await merged(p)).toEqual(before);
    expect(
      renderRedrive(r, {
        bold: String,
        dim: String,
        red: String,
        green: String,
        yellow: String,
        cyan: String,
      } as never),
    ).toMatch(/^Dry run: \d+ of \d+ failed batches can be replayed/);
  });

  it('replays every failed batch through the aggregator: totals exact, every bad record dead-lettered once', async () => {
    const r = await runRedrive({ local: true, dataDir }, quietIo());
    expect(r.batches.map((b) => b.status)).toEqual(r.batches.map(() => 'replayed'));
    expect(r.counts.replayed).toBe(r.batches.length);
    expect(failedRedriveError(r)).toBeUndefined();
    await p.waitForIdle({ timeoutMs: 60_000, flush: true });
    const m = await merged(p);
    expect(m.cells).toEqual(expectedCells(events, 60));
    expect(m.conflicts).toBe(0);
    badSequences = await deadLetterSequences(p);
    expect(badSequences).toHaveLength(6);
    expect(new Set(badSequences).size).toBe(6);
    expect(await pendingFailedBatches(dataDir)).toEqual([]);
    expect((await listRedriven(dataDir)).length).toBe(r.batches.length);
  }, 120_000);

  it('is idempotent: nothing left to replay, and replaying again (its bookkeeping lost) changes no total', async () => {
    const again = await runRedrive({ local: true, dataDir }, quietIo());
    expect(again.batches).toEqual([]);
    rmSync(redrivenFile(dataDir));
    const replay = await runRedrive({ local: true, dataDir }, quietIo());
    expect(replay.counts.replayed).toBeGreaterThan(0);
    await p.waitForIdle({ timeoutMs: 60_000, flush: true });
    const m = await merged(p);
    expect(m.cells).toEqual(expectedCells(events, 60));
    expect(m.conflicts).toBe(0);
    expect(await deadLetterSequences(p)).toEqual(badSequences);
  }, 120_000);

  it('batches past the retention, or no longer in the stream, are reported with their raw archive prefixes', async () => {
    rmSync(redrivenFile(dataDir), { force: true });
    const real = (await listFailedBatches(dataDir))[0] as FailedBatchRecord;
    // A batch whose first record the stream no longer holds (as after a trim): starts before it.
    const c = await direct(p);
    const shard = (
      await c.kinesis.send(new ListShardsCommand({ StreamName: p.config.streams.input.name }))
    ).Shards?.find((s) => s.ShardId === real.KinesisBatchInfo.shardId);
    c.kinesis.destroy();
    c.s3.destroy();
    appendFailedBatch(dataDir, {
      ...real,
      requestContext: { ...real.requestContext, requestId: 'trimmed-batch' },
      KinesisBatchInfo: {
        ...real.KinesisBatchInfo,
        startSequenceNumber: shard?.SequenceNumberRange?.StartingSequenceNumber ?? '0',
      },
    });
    appendFailedBatch(dataDir, { requestContext: { requestId: 'garbage' } } as never);
    const r = await runRedrive({ local: true, dataDir, dryRun: true }, quietIo());
    const byId = new Map(r.batches.map((b) => [b.id, b]));
    expect(byId.get('trimmed-batch')).toMatchObject({
      status: 'past-retention',
      detail: expect.stringMatching(
        /^the first record \(\d+\) is no longer in shardId-\d+; the oldest there is \d+$/,
      ),
      archive: {
        bucket: p.config.buckets.raw,
        prefixes: expect.arrayContaining([
          expect.stringMatching(/^data\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/$/),
        ]),
      },
    });
    expect(byId.get('garbage')).toMatchObject({ status: 'unreadable' });

    // Eight days on, nothing is left in a 24 h stream: every batch is past retention, none is read.
    const later = await runRedrive({ local: true, dataDir }, quietIo(), {
      now: () => Date.now() + 8 * 86_400_000,
    });
    expect(later.retentionHours).toBe(p.config.streams.input.retentionHours);
    for (const b of later.batches.filter((x) => x.status !== 'unreadable')) {
      expect(b.status).toBe('past-retention');
      expect(b.detail).toMatch(/more than the stream's 24 h retention ago$/);
      expect(b.archive?.prefixes.length).toBeGreaterThanOrEqual(2);
    }
    const err = failedRedriveError(later);
    expect(err?.code).toBe('CHECK_FAILED');
    expect(err?.message).toMatch(
      /^\d+ of \d+ failed batches were not replayed \(\d+ past the stream's retention\)$/,
    );
    const text = renderRedrive(later, {
      bold: String,
      dim: String,
      red: String,
      green: String,
      yellow: String,
      cyan: String,
    } as never);
    expect(text).toContain(`raw copies: s3://${p.config.buckets.raw}/data/year=`);
  }, 120_000);

  describe('on AWS: the SQS failure queue', () => {
    const sqs = mockClient(SQSClient);
    const cfn = mockClient(CloudFormationClient);
    const QUEUE = 'https://sqs.ap-southeast-2.amazonaws.com/123456789012/paypipe-dev-aggregator-failures';
    beforeAll(() => {
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example');
      vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    });
    afterAll(() => {
      vi.unstubAllEnvs();
      sqs.restore();
      cfn.restore();
    });

    it('replays each message, deletes the replayed ones and hands the others back', async () => {
      const names: Record<string, string> = {
        InputStreamName: p.config.streams.input.name,
        OutputStreamName: p.config.streams.output.name,
        RawBucketName: p.config.buckets.raw,
        AnalyticsBucketName: p.config.buckets.analytics,
        FailureQueueUrl: QUEUE,
      };
      cfn.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            StackName: p.config.stackName,
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(),
            Outputs: STACK_OUTPUT_KEYS.map((k) => ({ OutputKey: k, OutputValue: names[k] ?? `${k}-v` })),
          },
        ],
      });
      const records = (await listFailedBatches(dataDir)).filter(
        (f) => f.requestContext?.requestId !== 'garbage',
      );
      const messages = [
        ...records.map((f, i) => ({ MessageId: `m${i}`, ReceiptHandle: `h${i}`, Body: JSON.stringify(f) })),
        { MessageId: 'junk', ReceiptHandle: 'hjunk', Body: 'not json' },
      ];
      sqs
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: messages.slice(0, 10) })
        .resolvesOnce({ Messages: messages.slice(10) })
        .resolves({ Messages: [] });
      sqs.on(DeleteMessageCommand).resolves({});
      sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [] });
      const c = await direct(p);
      const r = await runRedrive({ env: 'dev', region: p.config.region }, quietIo(), {
        clients: { kinesis: c.kinesis, s3: c.s3, sqs: new SQSClient({ region: p.config.region }) },
      });
      c.kinesis.destroy();
      c.s3.destroy();
      expect(r.target).toBe('aws');
      expect(r.source).toBe(QUEUE);
      const replayed = r.batches.filter((b) => b.status === 'replayed');
      expect(replayed.length).toBe(records.length - 1); // the trimmed batch cannot be
      expect(r.batches.find((b) => b.id === 'trimmed-batch')?.status).toBe('past-retention');
      expect(r.batches.find((b) => b.id === 'junk')?.status).toBe('unreadable');
      expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toMatchObject({
        QueueUrl: QUEUE,
        VisibilityTimeout: 900,
        WaitTimeSeconds: 1,
      });
      const deleted = sqs
        .commandCalls(DeleteMessageCommand)
        .map((x) => x.args[0].input.ReceiptHandle)
        .sort();
      expect(deleted).toHaveLength(replayed.length);
      const released = sqs
        .commandCalls(ChangeMessageVisibilityBatchCommand)
        .flatMap((x) => x.args[0].input.Entries ?? [])
        .map((e) => [e.ReceiptHandle, e.VisibilityTimeout]);
      expect(released).toHaveLength(2);
      expect(released.every(([, v]) => v === 0)).toBe(true);
      expect(new Set([...deleted, ...released.map(([h]) => h)]).size).toBe(messages.length);
      // Replayed once more on top of the local replays: still exact.
      await p.waitForIdle({ timeoutMs: 60_000, flush: true });
      expect((await merged(p)).cells).toEqual(expectedCells(events, 60));
    }, 120_000);
  });
});
