/**
 * The whole local pipeline with its Kinesis and S3 traffic going through the fault proxy: the
 * aggregator's PutRecords to the output stream lose entries and whole requests, GetRecords (the
 * pollers, incl. the analytics Firehose reading the output stream) fail now and then, and S3 writes
 * (Firehose deliveries and dead-letter objects) get 500/503/resets. The test's own clients talk to
 * the servers directly, so the faults hit only the pipeline. Final merged totals must be exact and
 * every bad record dead-lettered once.
 *
 * startLocalPipeline has no endpoint hook, so this file wraps startLocalServers (vi.mock of
 * src/local/servers.js, everything else real): the real servers start, a proxy is put in front
 * of each, and the pipeline is handed the proxies' URLs. The hook this needs in src/local is
 * described in docs/proof.md.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { localTarget } from '../../src/local/endpoints.js';
import type { LocalServers } from '../../src/local/servers.js';
import { sendRecords } from '../../src/aws/kinesis-sender.js';
import { type MergeResult, mergeRecords } from '../../src/domain/exact-merge.js';
import { serializeEvent } from '../../src/domain/event.js';
import { readRecords } from '../../src/aws/s3-objects.js';
import {
  expectedCells,
  makeEvents,
  startTestPipeline,
  type TestPipeline,
  toCells,
} from '../helpers/local-pipeline.js';
import type { FaultProxy, FaultRule } from '../proxy/fault-proxy.js';

const shared = vi.hoisted(() => ({
  real: undefined as { kinesis: string; s3: string } | undefined,
  kinesisProxy: undefined as FaultProxy | undefined,
  s3Proxy: undefined as FaultProxy | undefined,
}));

vi.mock('../../src/local/servers.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/local/servers.js')>();
  const { startFaultProxy } = await import('../proxy/fault-proxy.js');
  return {
    ...real,
    startLocalServers: async (o: Parameters<typeof real.startLocalServers>[0]): Promise<LocalServers> => {
      const s = await real.startLocalServers(o);
      const kp = await startFaultProxy({ target: s.kinesisEndpoint, seed: 7 });
      const sp = await startFaultProxy({ target: s.s3Endpoint, seed: 8 });
      shared.real = { kinesis: s.kinesisEndpoint, s3: s.s3Endpoint };
      shared.kinesisProxy = kp;
      shared.s3Proxy = sp;
      const closeProxies = async (): Promise<void> => {
        await Promise.all([kp.close(), sp.close()]);
      };
      return {
        kinesisEndpoint: kp.url,
        s3Endpoint: sp.url,
        pid: s.pid,
        exited: s.exited,
        stop: async () => {
          await s.stop();
          await closeProxies();
        },
        kill: async () => {
          await s.kill();
          await closeProxies();
        },
      };
    },
  };
});

const SOAK = process.env.PAYPIPE_SOAK === '1';

const KINESIS_FAULTS: FaultRule[] = [
  // The aggregator's output puts (the test sends its input directly, not through the proxy): a
  // few certain request faults early on (so each kind surely happens), then random ones.
  { match: { operation: 'PutRecords' }, action: { status: 500, flavour: 'kinesis' }, after: 1, times: 2 },
  { match: { operation: 'PutRecords' }, action: { reset: true }, after: 3, times: 2 },
  { match: { operation: 'PutRecords' }, action: { status: 503, flavour: 'kinesis' }, share: 0.05 },
  { match: { operation: 'PutRecords' }, action: { reset: true }, share: 0.05 },
  { match: { operation: 'PutRecords' }, action: { failEntries: 0.3 }, share: 0.6 },
  // Every poller (aggregator ESM, both Firehoses) now and then.
  { match: { operation: 'GetRecords' }, action: { status: 503, flavour: 'kinesis' }, share: 0.05 },
  { match: { operation: 'GetRecords' }, action: { reset: true }, share: 0.02 },
];
const S3_FAULTS: FaultRule[] = [
  // The first dead-letter writes fail past the SDK's 5 attempts, so the aggregator must fail its
  // whole batch AFTER its aggregates went out, and the retry's identical ids must be deduplicated.
  { match: { method: 'PUT', path: /\/dead-letters\// }, action: { status: 503, flavour: 's3' }, times: 12 },
  { match: { method: 'PUT' }, action: { reset: true }, after: 2, times: 2 },
  { match: { method: 'PUT' }, action: { status: 503, flavour: 's3' }, share: 0.2 },
  { match: { method: 'PUT' }, action: { status: 500, flavour: 's3' }, share: 0.1 },
  { match: { method: 'PUT' }, action: { reset: true }, share: 0.05 },
];

let p: TestPipeline;
let direct: { kinesis: Awaited<ReturnType<typeof kinesisClient>>; s3: Awaited<ReturnType<typeof s3Client>> };

beforeAll(async () => {
  p = await startTestPipeline({
    // Enough ESM retries that a batch unlucky several times over still gets through (and so the
    // assertion failedBatches === 0 is about the faults, not about the retry budget).
    configOverrides: { shardCount: 2, batchSize: 200, retryAttempts: 20 },
  });
  const real = shared.real;
  if (real === undefined) throw new Error('the servers.js wrapper did not run');
  const target = localTarget({ region: p.config.region, kinesisEndpoint: real.kinesis, s3Endpoint: real.s3 });
  direct = { kinesis: await kinesisClient(target), s3: await s3Client(target) };
}, 60_000);

afterAll(async () => {
  direct?.kinesis.destroy();
  direct?.s3.destroy();
  await p?.cleanup();
});

async function mergedFromS3(): Promise<MergeResult> {
  const { records, errors } = await readRecords(direct.s3, p.config.buckets.analytics, 'aggregations/');
  expect(errors).toEqual([]);
  const m = mergeRecords(records);
  expect(m.invalidSamples).toEqual([]);
  return m;
}

describe('the local pipeline under Kinesis and S3 faults', () => {
  it('merged totals are exact and every bad record is dead-lettered once', { timeout: 180_000 }, async () => {
    const kp = shared.kinesisProxy as FaultProxy;
    const sp = shared.s3Proxy as FaultProxy;
    kp.setRules(KINESIS_FAULTS);
    sp.setRules(S3_FAULTS);

    const now = Date.now();
    const events = makeEvents(SOAK ? 50_000 : 12_000, {
      startMs: now - 6 * 60_000,
      spanMs: 6 * 60_000,
      seed: 99,
    });
    const bad = Array.from({ length: 40 }, (_, i) => ({
      data:
        i % 2 === 0
          ? `{"transaction_id":"BAD${i}","amount":`
          : serializeEvent({
              ...(events[i] as (typeof events)[number]),
              transaction_id: `BAD${i}`,
              amount: -1,
            }),
      partitionKey: `BAD${i}`,
    }));
    // In a few waves, so faults land while batches of every stage are in flight.
    const records = [
      ...events.map((e) => ({ data: Buffer.from(serializeEvent(e)), partitionKey: e.transaction_id })),
      ...bad.map((b) => ({ data: Buffer.from(b.data), partitionKey: b.partitionKey })),
    ];
    for (let i = 0; i < 4; i++) {
      const wave = records.filter((_, j) => j % 4 === i);
      const s = await sendRecords(direct.kinesis, p.config.streams.input.name, wave);
      expect(s.failed).toBe(0);
    }
    await p.waitForIdle({ timeoutMs: 150_000, flush: true });

    const merged = await mergedFromS3();
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));

    const dead = (
      await readRecords(direct.s3, p.config.buckets.analytics, p.config.aggregator.deadLetterPrefix)
    ).records as Array<{ reason: string; sequence_number: string; partition_key: string }>;
    const bySeq = new Map(dead.map((d) => [d.sequence_number, d]));
    expect([...bySeq.values()].map((d) => d.partition_key).sort()).toEqual(
      bad.map((b) => b.partitionKey).sort(),
    );
    expect(new Set([...bySeq.values()].map((d) => d.reason))).toEqual(
      new Set(['not_json', 'amount_negative']),
    );

    // The faults really happened, and were absorbed by retries rather than given up on.
    const st = p.status();
    const fired = { kinesis: kp.stats.fired, s3: sp.stats.fired, failedEntries: kp.stats.failedEntries };
    // The certain rules fired every time; of the random ones, at least some.
    expect(
      [kp.stats.fired[0], kp.stats.fired[1], sp.stats.fired[0], sp.stats.fired[1]],
      JSON.stringify(fired),
    ).toEqual([2, 2, 12, 2]);
    expect(
      kp.stats.fired.reduce((a, b) => a + b, 0),
      JSON.stringify(fired),
    ).toBeGreaterThan(10);
    expect(
      sp.stats.fired.slice(2).reduce((a, b) => a + b, 0),
      JSON.stringify(fired),
    ).toBeGreaterThan(0);
    // A batch failed after its output went out, was retried, and its duplicates were removed by id.
    expect(st.aggregator.retries).toBeGreaterThan(0);
    expect(merged.stats.duplicates).toBeGreaterThan(0);
    expect(kp.stats.failedEntries).toBeGreaterThan(0);
    expect(st.failedBatches).toBe(0);
    expect(st.firehose.analytics.errorObjects + st.firehose.raw.errorObjects).toBe(0);
    console.info(
      `pipeline under faults: ${events.length} events + ${bad.length} bad → ${merged.aggregates.length} cells, ` +
        `${merged.stats.duplicates} duplicate aggregates removed; proxy fired ${JSON.stringify(fired)}; ` +
        `aggregator retries ${st.aggregator.retries}, partial failures ${st.aggregator.partialFailures}, ` +
        `S3 delivery errors ${st.firehose.analytics.deliveryErrors + st.firehose.raw.deliveryErrors}`,
    );
  });
});
