/**
 * `paypipe results` (the built CLI, against s3rver) on what an at-least-once pipeline really leaves
 * in the bucket: batch outputs written before a timeout, the retry's bisected halves, Firehose
 * duplicates, an output split into parts with an attempt that got only some of them out, and
 * objects of the old format. Expected figures are computed from the events, not with the merge.
 * Then the adversaries of the report itself: a partial overlap no chain can resolve, damaged
 * objects, and one gzip object holding a single 300 MB line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip, gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultsDoc } from '../../../src/cli/results/results.js';
import { aggregateId, BatchAggregator, renderAggregate } from '../../../src/domain/aggregate.js';
import { renderBatchOutput } from '../../../src/domain/batch-output.js';
import { currencyExponent } from '../../../src/domain/currency.js';
import type { PaymentEvent } from '../../../src/domain/event.js';
import { fromMinor } from '../../../src/domain/money.js';
import { encodeNdjson } from '../../../src/pipeline/codec.js';
import { parseExactTotal } from '../../../src/pipeline/send-summary.js';
import { type BuiltCli, buildCli, runCli } from '../../helpers/build-cli.js';
import { startTestServers, type TestServers } from '../../helpers/cli.js';

const H = Date.UTC(2024, 6, 1, 10);
const MIN = 60_000;
const prefix = (hour: number): string =>
  `aggregations/year=2024/month=07/day=01/hour=${String(hour).padStart(2, '0')}/`;
const SEQ0 = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;

let cli: BuiltCli;
let env: TestServers;

beforeAll(async () => {
  [cli, env] = await Promise.all([buildCli(), startTestServers()]);
});
afterAll(async () => {
  await env?.close();
  cli?.cleanup();
});

const put = (key: string, body: Uint8Array | string): Promise<unknown> =>
  env.s3.send(new PutObjectCommand({ Bucket: env.config.buckets.analytics, Key: key, Body: body }));

interface Rec {
  seq: bigint;
  event: PaymentEvent;
}

/** n records on a shard: one payment a few seconds apart, in 3 currencies, over a few windows. */
function shardRecords(shard: number, n: number, startMs: number): Rec[] {
  return Array.from({ length: n }, (_, i) => {
    const currency = ['USD', 'JPY', 'BHD'][(i + shard) % 3] as string;
    const minor = 101 + ((i * 7919 + shard * 31) % 50_000);
    return {
      seq: SEQ0 + BigInt(shard) * 7n + BigInt(i) * 1_000_003n,
      event: {
        transaction_id: `S${shard}-${i}`,
        amount: fromMinor(minor, currencyExponent(currency) as number),
        amountMinor: minor,
        currency,
        merchant: 'Amazon',
        event_timestamp: startMs + i * 13_000,
      },
    };
  });
}

/** The batch output lines the aggregator writes for records[a-1 .. b-1] (1-based, inclusive). */
function output(shard: number, records: Rec[], a: number, b: number, maxBytes?: number): string[] {
  const range = records.slice(a - 1, b);
  const acc = new BatchAggregator(MIN);
  for (const r of range) acc.add(r.event);
  return renderBatchOutput(
    {
      shardId: `shardId-${String(shard).padStart(12, '0')}`,
      firstSequenceNumber: (range[0] as Rec).seq.toString(),
      lastSequenceNumber: (range.at(-1) as Rec).seq.toString(),
    },
    range.length,
    acc.cells(),
    MIN,
    maxBytes,
  );
}

const gz = (lines: string[]): Uint8Array => gzipSync(Buffer.from(lines.join('')));

/** Per-currency count and total in minor units, straight from the events. */
function truth(events: PaymentEvent[]): Record<string, { count: number; total: number }> {
  const out: Record<string, { count: number; total: number }> = {};
  for (const e of events) {
    const t = out[e.currency] ?? { count: 0, total: 0 };
    t.count++;
    t.total += e.amountMinor;
    out[e.currency] = t;
  }
  return out;
}

const totalsOf = (doc: ResultsDoc): Record<string, { count: number; total: number | undefined }> =>
  Object.fromEntries(
    Object.entries(doc.byCurrency).map(([c, s]) => [
      c,
      { count: s.count, total: parseExactTotal(s.total, c) },
    ]),
  );

const results = (hour: number, ...more: string[]) =>
  runCli(
    cli,
    [
      'results',
      '--local',
      '--data-dir',
      env.dataDir,
      '--date',
      '2024-07-01',
      '--hour',
      String(hour),
      '--json',
      ...more,
    ],
    { timeoutMs: 60_000 },
  );

describe('results: exact totals under redelivery, re-batching and duplicates', () => {
  it('redelivered, bisected and duplicated batch outputs, parts and old-format objects: exact, complete', async () => {
    const s0 = shardRecords(0, 10, H + 5 * MIN);
    const s1 = shardRecords(1, 25, H + 20 * MIN);
    // Shard 0: [1,5] written before a timeout; the retry [1,10] timed out too and was bisected.
    const first = output(0, s0, 1, 5);
    const low = output(0, s0, 1, 3);
    const high = output(0, s0, 4, 10);
    // Shard 1: [1,4]; then [5,25] split into parts got only part 1 out before failing; it was
    // retried as [5,20] (parts, all out) and [21,25].
    const a = output(1, s1, 1, 4);
    const attempt = output(1, s1, 5, 25, 900);
    const retry = output(1, s1, 5, 20, 900);
    const tail = output(1, s1, 21, 25);
    expect(attempt.length).toBeGreaterThan(1);
    expect(retry.length).toBeGreaterThan(1);
    // Objects of the old format (before batch outputs), one aggregate delivered twice, in window 10:50.
    const old = [
      renderAggregate(
        aggregateId(
          { shardId: 'shardId-000000000000', firstSequenceNumber: '1', lastSequenceNumber: '9' },
          new Date(H + 50 * MIN).toISOString(),
          'EUR',
        ),
        H + 50 * MIN,
        MIN,
        'EUR',
        { count: 3, totalMinor: 1234, minMinor: 100, maxMinor: 834 },
      ),
    ];
    const p = prefix(10);
    await put(`${p}a-1.gz`, gz([...first, ...a]));
    await put(`${p}a-2.gz`, gz([...(attempt.slice(0, 1) as string[]), ...low]));
    // Firehose delivered [4,10] twice (two objects), and one part of the retry twice.
    await put(`${p}a-3.gz`, gz([...high, ...retry]));
    await put(`${p}a-4.gz`, gz([...high, retry[1] as string, ...tail]));
    await put(`${p}old-1.gz`, gzipSync(encodeNdjson([...old, ...old])));

    const r = await results(10);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.complete).toBe(true);
    expect(doc.issues).toEqual([]);
    const want = truth([...s0, ...s1].map((x) => x.event));
    want.EUR = { count: 3, total: 1234 };
    expect(totalsOf(doc)).toEqual(want);
    expect(doc.batches).toMatchObject({ shards: 2, incomplete: 1, counted: 5, superseded: 1 });
    expect(doc.legacy).toEqual({ aggregates: 1, duplicates: 1 });
    // Re-sent records: [4,10] once, retry part 2 once (the old EUR aggregate is in legacy.duplicates).
    expect(doc.duplicates).toBe(1 + 1 + 1);
  });

  it('a partial overlap with no chain: the shard and range named, complete false; --strict exits 1', async () => {
    const s0 = shardRecords(2, 10, H + 65 * MIN);
    const p = prefix(11);
    // [1,3] never arrived: [1,5] and [4,10] overlap and nothing else covers 1..3.
    await put(`${p}b-1.gz`, gz([...output(2, s0, 1, 5), ...output(2, s0, 4, 10)]));
    const r = await results(11);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.complete).toBe(false);
    expect(doc.issues).toEqual([
      expect.objectContaining({
        kind: 'gap',
        shard: 'shardId-000000000002',
        from: (s0[0] as Rec).seq.toString(),
        affectsRange: true,
      }),
    ]);
    // Nothing was counted twice.
    for (const [c, t] of Object.entries(totalsOf(doc)))
      expect(t.count).toBeLessThanOrEqual(truth(s0.map((x) => x.event))[c]?.count ?? 0);

    const strict = await results(11, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/--strict: 1 problem in the aggregates/);
    const human = await runCli(cli, [
      'results',
      '--local',
      '--data-dir',
      env.dataDir,
      '--date',
      '2024-07-01',
      '--hour',
      '11',
    ]);
    expect(human.stdout).toMatch(
      /✗ shardId-000000000002 \d+\.\.\d+: no disjoint chain of complete batch outputs covers these records/,
    );
    expect(human.stdout).toMatch(/INCOMPLETE/);
  });
});

describe('results: damaged objects never pass silently', () => {
  it('truncated gzip and plain text under .gz: salvaged records shown, complete false, exit 1 unless --allow-damaged', async () => {
    const s0 = shardRecords(3, 6, H + 125 * MIN);
    const p = prefix(12);
    const good = gz([...output(3, s0, 1, 3)]);
    const cut = gz([...output(3, s0, 4, 6), ...output(3, s0, 4, 6)]);
    await put(`${p}c-1.gz`, good);
    await put(`${p}c-2.gz`, cut.subarray(0, cut.length - 10));
    await put(`${p}c-3.gz`, output(3, s0, 4, 6).join(''));
    const r = await results(12);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.complete).toBe(false);
    expect(doc.problems.map((x) => [x.key.split('/').pop(), x.kind])).toEqual([
      ['c-2.gz', 'truncated_gzip'],
      ['c-3.gz', 'not_gzip'],
    ]);
    expect(r.stderr).toMatch(/"message":"2 damaged objects in .*; the results above are incomplete"/);
    const accepted = await results(12, '--allow-damaged');
    expect(accepted.code, accepted.stderr).toBe(0);
    const adoc = JSON.parse(accepted.stdout) as ResultsDoc;
    expect(adoc.complete).toBe(false);
    expect(totalsOf(adoc)).toEqual(truth(s0.map((x) => x.event)));
  });

  it('one gzip object holding a single 300 MB line: reported within 5 s, peak RSS under 200 MiB', {
    timeout: 120_000,
  }, async () => {
    const s0 = shardRecords(4, 4, H + 185 * MIN);
    const before = output(4, s0, 1, 2).join('');
    const after = output(4, s0, 3, 4).join('');
    // Built as a stream: the 300 MB never exist in this process either.
    const body = await new Promise<Buffer>((resolve, reject) => {
      const z = createGzip({ level: 9 });
      const parts: Buffer[] = [];
      z.on('data', (d: Buffer) => parts.push(d));
      z.on('end', () => resolve(Buffer.concat(parts)));
      z.on('error', reject);
      const mb = Buffer.alloc(1024 * 1024, 'x');
      z.write(`${before}{"window_start":"`);
      let n = 0;
      const more = (): void => {
        while (n < 300) {
          n++;
          if (!z.write(mb)) {
            z.once('drain', more);
            return;
          }
        }
        z.end(`"}\n${after}`);
      };
      more();
    });
    expect(body.length).toBeLessThan(400_000);
    await put(`${prefix(13)}huge.gz`, body);
    const rssFile = join(cli.dir, `rss-${Date.now()}.txt`);
    const preload = join(cli.dir, 'rss-preload.mjs');
    writeFileSync(
      preload,
      `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
    );
    const t0 = Date.now();
    const r = await runCli(
      cli,
      [
        'results',
        '--local',
        '--data-dir',
        env.dataDir,
        '--date',
        '2024-07-01',
        '--hour',
        '13',
        '--json',
        '--allow-damaged',
      ],
      { env: { NODE_OPTIONS: `--import=${preload}` }, timeoutMs: 60_000 },
    );
    const took = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.problems).toEqual([expect.objectContaining({ kind: 'record_too_large', salvaged: 2 })]);
    expect(doc.complete).toBe(false);
    // The records on either side of the monster line still count.
    expect(totalsOf(doc)).toEqual(truth(s0.map((x) => x.event)));
    const { readFileSync } = await import('node:fs');
    const rssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;
    console.info(`300 MB line: results took ${took} ms, peak RSS ${rssMiB.toFixed(0)} MiB`);
    expect(rssMiB).toBeLessThan(200);
    expect(took).toBeLessThan(5000);
  });
});
