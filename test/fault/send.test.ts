/**
 * `paypipe send` (the built bin, as a user runs it) of 50,000 events into kinesalite through the
 * fault proxy: 30% of PutRecords entries fail with ProvisionedThroughputExceededException (never
 * forwarded, exactly as Kinesis reports a partial failure) and about 5% of requests fail whole
 * (500, 503, connection reset). The CLI reaches the proxy because `--local` reads
 * `<dataDir>/endpoints.json`, which here points Kinesis at the proxy.
 *
 * Proven by reading every shard back directly (not through the proxy):
 * - every event the summary calls sent is on the stream exactly once (no retry duplicated one);
 * - every other event is in the unsent file, so sent ∪ unsent is exactly the 50,000 generated and
 *   they are disjoint (nothing lost, even if an entry ran out of attempts);
 * - the summary's counts (sent, failed, throttled, per-currency count and exact total) are what is
 *   on the stream and what the proxy did.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../../src/aws/stream-reader.js';
import type { SendSummaryDoc } from '../../src/pipeline/send-summary.js';
import { parseExactTotal } from '../../src/pipeline/send-summary.js';
import { generatedItems } from '../../src/cli/send/send-run.js';
import { currencyExponent } from '../../src/domain/currency.js';
import { toMinor } from '../../src/domain/money.js';
import { buildFullCli } from '../helpers/built-cli.js';
import { startTestServers, type TestServers } from '../helpers/cli.js';
import { type BuiltCli, runCli } from '../helpers/build-cli.js';
import { type FaultProxy, startFaultProxy } from '../proxy/fault-proxy.js';

const SOAK = process.env.PAYPIPE_SOAK === '1';
const COUNT = SOAK ? 200_000 : 50_000;
const SEED = 4242;

let cli: BuiltCli;
let servers: TestServers;
let proxy: FaultProxy;

beforeAll(async () => {
  [cli, servers] = await Promise.all([buildFullCli(), startTestServers()]);
  proxy = await startFaultProxy({
    target: servers.kinesisEndpoint,
    seed: 20_240_115,
    rules: [
      // ~5% of PutRecords requests fail whole, before reaching the server (so a retry is safe).
      { match: { operation: 'PutRecords' }, action: { status: 500, flavour: 'kinesis' }, share: 0.017 },
      { match: { operation: 'PutRecords' }, action: { status: 503, flavour: 'kinesis' }, share: 0.017 },
      { match: { operation: 'PutRecords' }, action: { reset: true }, share: 0.017 },
      // Of the rest, every request loses 30% of its entries to throttling.
      { match: { operation: 'PutRecords' }, action: { failEntries: 0.3 } },
    ],
  });
  servers.pointCliAt({ kinesis: proxy.url });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await servers?.close();
  cli?.cleanup();
});

interface Wire {
  transaction_id: string;
  amount: number;
  currency: string;
  merchant: string;
}

describe(`send ${COUNT.toLocaleString('en-US')} events through 30% entry failures and 5% request faults`, () => {
  it('every event ends up on the stream exactly once or in the unsent file; the summary says so', {
    timeout: SOAK ? 900_000 : 150_000,
  }, async () => {
    const unsentFile = join(servers.dataDir, 'unsent.ndjson');
    const t0 = performance.now();
    const r = await runCli(
      cli,
      [
        'send',
        '--local',
        '--data-dir',
        servers.dataDir,
        '--count',
        String(COUNT),
        '--seed',
        String(SEED),
        // Every batch needs several backoff rounds at 30% entry failures: more batches in flight
        // keep the run short (the retry logic is the same at any concurrency).
        '--concurrency',
        '32',
        '--unsent-file',
        unsentFile,
        '--json',
      ],
      { timeoutMs: SOAK ? 840_000 : 140_000 },
    );
    const tSend = performance.now();
    const doc = JSON.parse(r.stdout) as SendSummaryDoc;
    // With 8 attempts an entry stays unsent with probability 0.3^8 ≈ 7e-5: a few may, and then the
    // command must say so (exit 1, one line) and leave them in the file.
    if (doc.failed > 0) {
      expect(r.code).toBe(1);
      const err = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '') as { error: Record<string, unknown> };
      expect(err.error).toMatchObject({ code: 'UNSENT', failed: doc.failed, unsentFile });
    } else expect(r.code, r.stderr).toBe(0);

    // What the stream holds, every shard, read directly.
    const onStream: Wire[] = [];
    for await (const rec of readStream(servers.kinesis, servers.config.streams.input.name, {
      position: { type: 'trim-horizon' },
      minIntervalMs: 0,
    })) {
      onStream.push(JSON.parse(Buffer.from(rec.data).toString('utf8')) as Wire);
    }
    const tRead = performance.now();
    const unsent: Wire[] = existsSync(unsentFile)
      ? readFileSync(unsentFile, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Wire)
      : [];

    // Exactly once: no id twice on the stream, none both sent and unsent.
    const streamIds = onStream.map((e) => e.transaction_id);
    expect(new Set(streamIds).size).toBe(streamIds.length);
    const unsentIds = new Set(unsent.map((e) => e.transaction_id));
    expect(streamIds.filter((id) => unsentIds.has(id))).toEqual([]);

    // Nothing lost: stream ∪ unsent is exactly what the generator makes for this seed.
    const expected = new Map<string, string>();
    const gen = generatedItems({ seed: SEED, clock: () => Date.now() });
    for (let i = 0; i < COUNT; i++) {
      const e = JSON.parse(Buffer.from(gen.next().value.data).toString('utf8')) as Wire;
      expected.set(e.transaction_id, `${e.amount} ${e.currency} ${e.merchant}`);
    }
    expect(expected.size).toBe(COUNT);
    const got = new Map<string, string>();
    for (const e of [...onStream, ...unsent])
      got.set(e.transaction_id, `${e.amount} ${e.currency} ${e.merchant}`);
    expect(got.size).toBe(COUNT);
    expect([...got].filter(([id, v]) => expected.get(id) !== v)).toEqual([]);

    // The summary's counts are what happened.
    expect(doc.requested).toBe(COUNT);
    expect(doc.sent).toBe(onStream.length);
    expect(doc.failed).toBe(unsent.length);
    expect(doc.unsentFile === null ? 0 : unsent.length).toBe(doc.failed);
    expect(proxy.stats.forwardedEntries).toBe(onStream.length);
    expect(doc.throttled).toBe(proxy.stats.failedEntries);
    expect(doc.retried).toBeGreaterThanOrEqual(proxy.stats.failedEntries - doc.failed);
    expect(proxy.stats.failedEntries).toBeGreaterThan(COUNT * 0.3);
    // Each kind of request fault fired (the SDK retried them without the sender seeing them).
    expect(
      proxy.stats.fired.slice(0, 3).every((n) => n > 0),
      `fired ${proxy.stats.fired}`,
    ).toBe(true);

    const byCurrency = new Map<string, { count: number; totalMinor: number }>();
    for (const e of onStream) {
      const m = toMinor(e.amount, currencyExponent(e.currency) as number);
      if (!m.ok) throw new Error(`${e.transaction_id}: ${m.reason}`);
      const t = byCurrency.get(e.currency) ?? { count: 0, totalMinor: 0 };
      t.count++;
      t.totalMinor += m.minor;
      byCurrency.set(e.currency, t);
    }
    const summary = Object.fromEntries(
      Object.entries(doc.byCurrency).map(([c, t]) => [
        c,
        { count: t.count, totalMinor: parseExactTotal(t.total, c) },
      ]),
    );
    expect(summary).toEqual(Object.fromEntries([...byCurrency].sort(([a], [b]) => (a < b ? -1 : 1))));
    console.info(
      `send under faults: ${doc.sent} sent, ${doc.failed} unsent (in the file), ${doc.throttled} throttled, ` +
        `${doc.retried} retried, ${doc.requests} PutRecords; proxy fired ${proxy.stats.fired} ` +
        `(500/503/reset/partial); send ${((tSend - t0) / 1000).toFixed(1)} s, read-back ${((tRead - tSend) / 1000).toFixed(1)} s`,
    );
  });
});
