/**
 * `paypipe results` (the built bin) reading aggregation objects from s3rver through the fault
 * proxy, reached with `--local` via an endpoints.json that points S3 at the proxy:
 * - intermittent faults on every kind of request (503 SlowDown, 500, connection resets, bodies cut
 *   off mid-download, list pages failing): retried, and the figures are exact;
 * - some objects S3 refuses every time: the rest is merged exactly, those keys (and only those)
 *   are reported, exit 1 with one `paypipe:` line — never a crash or a stack trace;
 * - the listing itself refused every time: exit 1, one line.
 * Expected figures are computed here from what was written (dedup by id, sums in minor units),
 * not with the merge code under test.
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultsDoc } from '../../src/cli/results/results.js';
import { parseExactTotal } from '../../src/pipeline/send-summary.js';
import { forEachLimit } from '../../src/aws/s3-objects.js';
import { type Aggregate, aggregateId, renderAggregate } from '../../src/domain/aggregate.js';
import { encodeNdjson } from '../../src/pipeline/codec.js';
import { buildFullCli } from '../helpers/built-cli.js';
import { startTestServers, type TestServers } from '../helpers/cli.js';
import { type BuiltCli, runCli } from '../helpers/build-cli.js';
import { type FaultProxy, startFaultProxy } from '../proxy/fault-proxy.js';

const HOUR0 = Date.UTC(2024, 2, 1, 0);
const PREFIX = 'aggregations/year=2024/month=03/day=01/hour=00/';
const OBJECTS = 80;
const PER_OBJECT = 150;
const CURRENCIES = ['USD', 'EUR', 'JPY', 'BHD'];
const REFUSED = [7, 23, 61];

let cli: BuiltCli;
let servers: TestServers;
let proxy: FaultProxy;
const written: Array<{ key: string; aggs: Aggregate[] }> = [];

beforeAll(async () => {
  [cli, servers] = await Promise.all([buildFullCli(), startTestServers()]);
  proxy = await startFaultProxy({ target: servers.s3Endpoint, seed: 31 });
  servers.pointCliAt({ s3: proxy.url });
  let seq = 0;
  for (let o = 0; o < OBJECTS; o++) {
    const aggs: Aggregate[] = [];
    for (let i = 0; i < PER_OBJECT; i++) {
      // Every 10th object re-delivers the previous object's first 30 aggregates (same ids).
      const redelivered = o % 10 === 9 ? written[o - 1]?.aggs[i] : undefined;
      if (redelivered !== undefined && i < 30) {
        aggs.push(redelivered);
        continue;
      }
      const currency = CURRENCIES[(o + i) % CURRENCIES.length] as string;
      const windowMs = HOUR0 + ((o * 7 + i) % 60) * 60_000;
      const count = 1 + ((o * 31 + i * 17) % 50);
      const minMinor = 1 + ((o + i) % 90);
      const maxMinor = minMinor + ((o * 13 + i * 7) % 100_000);
      const totalMinor = minMinor + maxMinor + (count - 2 > 0 ? (count - 2) * minMinor : 0);
      ++seq;
      const id = aggregateId(
        {
          shardId: 'shardId-000000000000',
          firstSequenceNumber: String(seq),
          lastSequenceNumber: String(seq),
        },
        new Date(windowMs).toISOString(),
        currency,
      );
      aggs.push(
        renderAggregate(id, windowMs, 60_000, currency, {
          count: Math.max(count, 2),
          totalMinor,
          minMinor,
          maxMinor,
        }),
      );
    }
    written.push({
      key: `${PREFIX}paypipe-dev-analytics-1-2024-03-01-00-${String(o).padStart(3, '0')}.gz`,
      aggs,
    });
  }
  await forEachLimit(written, 8, async (w) => {
    await servers.s3.send(
      new PutObjectCommand({
        Bucket: servers.config.buckets.analytics,
        Key: w.key,
        Body: gzipSync(encodeNdjson(w.aggs), { level: 1 }),
      }),
    );
  });
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await servers?.close();
  cli?.cleanup();
});

/** Per-currency count and exact total of the objects, each aggregate id counted once. */
function expectedTotals(
  skip: ReadonlySet<number> = new Set(),
): Record<string, { count: number; total: number }> {
  const seen = new Set<string>();
  const t: Record<string, { count: number; total: number }> = {};
  const exp: Record<string, number> = { USD: 2, EUR: 2, JPY: 0, BHD: 3 };
  written.forEach((w, o) => {
    if (skip.has(o)) return;
    for (const a of w.aggs) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      const c = t[a.currency] ?? { count: 0, total: 0 };
      t[a.currency] = c;
      c.count += a.transaction_count;
      // total_amount is rendered from exact minor units; scale back by the currency's decimals.
      c.total += Math.round(a.total_amount * 10 ** (exp[a.currency] as number));
    }
  });
  return t;
}

const totalsOf = (doc: ResultsDoc): Record<string, { count: number; total: number | undefined }> =>
  Object.fromEntries(
    Object.entries(doc.byCurrency).map(([c, s]) => [
      c,
      { count: s.count, total: parseExactTotal(s.total, c) },
    ]),
  );

const args = (): string[] => [
  'results',
  '--local',
  '--data-dir',
  servers.dataDir,
  '--date',
  '2024-03-01',
  '--hour',
  '0',
  '--json',
];

describe('results under S3 faults (built bin, through the proxy)', () => {
  it('intermittent faults of every kind are retried: the figures are exact, nothing reported', {
    timeout: 120_000,
  }, async () => {
    proxy.setRules([
      { match: { method: 'GET', path: /list-type=2/ }, action: { status: 503, flavour: 's3' }, times: 2 },
      { match: { method: 'GET', path: /\.gz/ }, action: { truncateAfterBytes: 3000 }, share: 0.1 },
      { match: { method: 'GET', path: /\.gz/ }, action: { status: 503, flavour: 's3' }, share: 0.15 },
      { match: { method: 'GET', path: /\.gz/ }, action: { status: 500, flavour: 's3' }, share: 0.1 },
      { match: { method: 'GET', path: /\.gz/ }, action: { reset: true }, share: 0.1 },
    ]);
    const r = await runCli(cli, args(), { timeoutMs: 100_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.objects).toMatchObject({ listed: OBJECTS, unreadable: 0, damaged: 0 });
    expect(doc.problems).toEqual([]);
    expect(doc.records).toBe(OBJECTS * PER_OBJECT);
    expect(doc.duplicates).toBe(30 * Math.floor(OBJECTS / 10));
    expect(totalsOf(doc)).toEqual(expectedTotals());
    expect(
      proxy.stats.fired.every((n) => n > 0),
      `fired ${proxy.stats.fired}`,
    ).toBe(true);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('objects S3 always refuses are reported by key, the rest is exact, exit 1 with one line', {
    timeout: 120_000,
  }, async () => {
    const refused = REFUSED.map((o) => written[o]?.key as string);
    proxy.setRules([
      ...refused.map((k) => ({
        // The SDK adds a query string (?x-id=GetObject): match the key up to it.
        match: { method: 'GET', path: new RegExp(`/${k.split('/').at(-1)?.replace('.', '\\.')}(\\?|$)`) },
        // 500, not 503: SlowDown is a throttle, and the SDK's throttle backoff makes giving up on
        // one object take ~35 s (5 SDK attempts × 4 whole-object attempts); same code path.
        action: { status: 500 as const, flavour: 's3' as const },
      })),
      { match: { method: 'GET', path: /\.gz/ }, action: { reset: true }, share: 0.1 },
    ]);
    const r = await runCli(cli, args(), { timeoutMs: 100_000 });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.objects).toMatchObject({ listed: OBJECTS, unreadable: REFUSED.length });
    expect(doc.problems.map((p) => [p.key, p.kind]).sort()).toEqual(refused.map((k) => [k, 's3']).sort());
    expect(totalsOf(doc)).toEqual(expectedTotals(new Set(REFUSED)));
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '') as {
      error: { code: string; message: string };
    };
    expect(err.error.message).toMatch(/^3 objects could not be read .* after retries/);
    expect(r.stderr).not.toMatch(/^\s+at /m);

    // The same without --json: the table, a warning per key, then exactly one paypipe: line.
    const human = await runCli(
      cli,
      args().filter((a) => a !== '--json'),
      { timeoutMs: 100_000 },
    );
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/USD/);
    const lines = human.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('paypipe: '))).toEqual([lines.at(-1)]);
    for (const k of refused) expect(human.stderr + human.stdout).toContain(k);
    expect(human.stderr).not.toMatch(/^\s+at /m);
  });

  it('a listing S3 always refuses: exit 1, one paypipe: line, no stack, nothing on stdout', {
    timeout: 120_000,
  }, async () => {
    proxy.setRules([
      { match: { method: 'GET', path: /list-type=2/ }, action: { status: 500, flavour: 's3' } },
    ]);
    const r = await runCli(
      cli,
      args().filter((a) => a !== '--json'),
      { timeoutMs: 100_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('paypipe: '))).toEqual([lines.at(-1)]);
    expect(lines.at(-1)).toMatch(/InternalError|listing/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
