/**
 * Reading aggregation objects back from real s3rver: pagination past 1,000 keys, merge with each
 * aggregate id counted once, arrival-hour spill-over, damaged objects salvaged and reported by
 * key, and S3 faults (mid-body resets resumed by Range, SlowDown retried, persistent errors
 * reported) injected by the fault proxy.
 */
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Client } from '../../../src/aws/clients.js';
import { forEachLimit, listObjects, readObjects } from '../../../src/aws/s3-objects.js';
import { type Aggregate, aggregateId, renderAggregate } from '../../../src/domain/aggregate.js';
import { encodeNdjson } from '../../../src/pipeline/codec.js';
import { readResults } from '../../../src/cli/results/results.js';
import { type FaultProxy, startFaultProxy } from '../../proxy/fault-proxy.js';
import { startTestServers, type TestServers } from '../../helpers/cli.js';

let env: TestServers;
let bucket: string;
const H10 = Date.UTC(2024, 0, 15, 10);
const MIN = 60_000;
const HOUR = 3_600_000;

beforeAll(async () => {
  env = await startTestServers();
  bucket = env.config.buckets.analytics;
});
afterAll(async () => env?.close());

const put = (key: string, body: Uint8Array | string): Promise<unknown> =>
  env.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

let seq = 0;
/** A distinct aggregate (as the aggregator would emit for one batch). */
function agg(
  windowMs: number,
  currency: string,
  count: number,
  totalMinor: number,
  minMinor = 1,
  maxMinor = totalMinor,
): Aggregate {
  const id = aggregateId(
    { shardId: 'shardId-000000000000', firstSequenceNumber: String(++seq), lastSequenceNumber: String(seq) },
    new Date(windowMs).toISOString(),
    currency,
  );
  return renderAggregate(id, windowMs, MIN, currency, { count, totalMinor, minMinor, maxMinor });
}

describe('results over many objects', () => {
  it('lists > 1,000 keys, merges them exactly, counts re-delivered ids once, and picks up late arrivals', async () => {
    const prefix = 'aggregations/year=2024/month=01/day=15/hour=10/';
    const expected = new Map<string, { count: number; total: number }>();
    const all: Aggregate[] = [];
    const objects: Array<{ key: string; body: Uint8Array }> = [];
    for (let i = 0; i < 1010; i++) {
      const w = H10 + (i % 60) * MIN;
      const cur = i % 3 === 0 ? 'EUR' : 'USD';
      const a = agg(w, cur, 1 + (i % 7), 1000 + i);
      all.push(a);
      const k = `${w}|${cur}`;
      const e = expected.get(k) ?? { count: 0, total: 0 };
      e.count += a.transaction_count;
      e.total += 1000 + i;
      expected.set(k, e);
      objects.push({
        key: `${prefix}agg-${String(i).padStart(5, '0')}.gz`,
        body: gzipSync(encodeNdjson([a])),
      });
    }
    // Firehose re-delivered 20 objects' records (same ids) into other objects: must not count twice.
    for (let i = 0; i < 20; i++) {
      objects.push({
        key: `${prefix}redelivered-${i}.gz`,
        body: gzipSync(encodeNdjson([all[i * 7] as Aggregate])),
      });
    }
    // The 10:59 window's late aggregate arrived in hour 11; an 11:xx window there is out of range.
    const late = agg(H10 + 59 * MIN, 'USD', 4, 777);
    const outside = agg(H10 + 61 * MIN, 'USD', 9, 999);
    objects.push({
      key: 'aggregations/year=2024/month=01/day=15/hour=11/late.gz',
      body: gzipSync(encodeNdjson([late, outside])),
    });
    const lk = `${H10 + 59 * MIN}|USD`;
    const le = expected.get(lk) as { count: number; total: number };
    le.count += 4;
    le.total += 777;
    await forEachLimit(objects, 16, (o) => put(o.key, o.body).then(() => {}));

    const listed = await listObjects(env.s3, bucket, [prefix]);
    expect(listed).toHaveLength(1030);

    const out = await readResults(env.s3, {
      bucket,
      range: { fromMs: H10, toMs: H10 + HOUR },
      raw: false,
      windowMs: MIN,
      maxFutureSkewMs: 86_400_000,
      nowMs: H10 + 2 * HOUR,
    });
    expect(out.doc.prefixes).toEqual([prefix, 'aggregations/year=2024/month=01/day=15/hour=11/']);
    expect(out.doc.objects.listed).toBe(1031);
    expect(out.doc.records).toBe(1032);
    expect(out.doc.duplicates).toBe(20);
    expect(out.doc.outOfRange).toBe(1);
    expect(out.doc.problems).toEqual([]);
    const merged = out.doc.aggregates ?? [];
    expect(merged).toHaveLength(expected.size);
    for (const m of merged) {
      const e = expected.get(`${Date.parse(m.window_start)}|${m.currency}`);
      expect(e, m.window_start).toBeDefined();
      expect(m.transaction_count).toBe(e?.count);
      expect(Math.round(m.total_amount * 100)).toBe(e?.total);
    }
    const usd = [...expected].filter(([k]) => k.endsWith('USD')).reduce((s, [, v]) => s + v.total, 0);
    expect(out.totals.get('USD')?.totalMinor).toBe(usd);
    expect(out.doc.perWindow).toHaveLength(60);
  });
});

describe('damaged objects', () => {
  const prefix = 'aggregations/year=2024/month=02/day=01/hour=00/';
  const W = Date.UTC(2024, 1, 1, 0, 5);

  it('are reported by key with what was salvaged, and the rest is merged', async () => {
    const nd = [agg(W, 'USD', 1, 100), agg(W, 'USD', 2, 200), agg(W, 'EUR', 3, 300)];
    const concat = [agg(W, 'USD', 4, 400), agg(W, 'JPY', 5, 5000)];
    const big = Array.from({ length: 400 }, (_, i) => agg(W + MIN, 'GBP', 1, 10 + i));
    const bigGz = gzipSync(encodeNdjson(big));
    await put(`${prefix}a-ndjson.gz`, gzipSync(encodeNdjson(nd)));
    await put(`${prefix}b-concatenated.gz`, gzipSync(concat.map((a) => JSON.stringify(a)).join('')));
    await put(`${prefix}c-empty.gz`, new Uint8Array(0));
    await put(`${prefix}d-truncated.gz`, bigGz.subarray(0, Math.floor(bigGz.length / 2)));
    await put(`${prefix}e-not-json.gz`, gzipSync('this is not json\n'));
    await put(`${prefix}f-plain-ndjson`, encodeNdjson([agg(W, 'USD', 6, 600)]));

    const out = await readResults(env.s3, {
      bucket,
      range: { fromMs: W - 5 * MIN, toMs: W + 55 * MIN },
      raw: false,
      windowMs: MIN,
      maxFutureSkewMs: 86_400_000,
      nowMs: W + HOUR,
    });
    const byKey = Object.fromEntries(out.doc.problems.map((p) => [p.key.slice(prefix.length), p]));
    expect(Object.keys(byKey).sort()).toEqual(['c-empty.gz', 'd-truncated.gz', 'e-not-json.gz']);
    expect(byKey['c-empty.gz']).toMatchObject({ kind: 'empty', salvaged: 0 });
    expect(byKey['e-not-json.gz']).toMatchObject({ kind: 'not_json', salvaged: 0 });
    const trunc = byKey['d-truncated.gz'];
    expect(trunc?.kind).toBe('truncated_gzip');
    expect(trunc?.salvaged).toBeGreaterThan(50);
    expect(trunc?.salvaged).toBeLessThan(400);
    expect(out.doc.objects.damaged).toBe(3);

    const files = Object.fromEntries(out.files.map((f) => [f.key.slice(prefix.length), f.records]));
    expect(files).toMatchObject({
      'a-ndjson.gz': 3,
      'b-concatenated.gz': 2,
      'c-empty.gz': 0,
      'f-plain-ndjson': 1,
    });
    const usd = out.doc.aggregates?.find((a) => a.currency === 'USD');
    expect(usd).toMatchObject({ transaction_count: 1 + 2 + 4 + 6, total_amount: 13 });
    const gbp = out.doc.aggregates?.find((a) => a.currency === 'GBP');
    // Exactly the salvaged records, each once.
    expect(gbp?.transaction_count).toBe(trunc?.salvaged);
  });
});

describe('S3 faults through the proxy', () => {
  let proxy: FaultProxy;
  const prefix = 'aggregations/year=2024/month=03/day=01/hour=00/';
  const W = Date.UTC(2024, 2, 1, 0, 0);
  const big = Array.from({ length: 3000 }, (_, i) => agg(W, 'USD', 1, 100 + i));
  const bigBody = gzipSync(encodeNdjson(big), { level: 1 });

  beforeAll(async () => {
    proxy = await startFaultProxy({ target: env.s3Endpoint, seed: 3 });
    await put(`${prefix}big.gz`, bigBody);
    await put(`${prefix}small-1.gz`, gzipSync(encodeNdjson([agg(W, 'EUR', 2, 20)])));
    await put(`${prefix}small-2.gz`, gzipSync(encodeNdjson([agg(W, 'EUR', 3, 30)])));
  });
  afterAll(async () => proxy?.close());

  const viaProxy = () =>
    s3Client(
      {
        kind: 'local',
        region: env.config.region,
        kinesisEndpoint: env.kinesisEndpoint,
        s3Endpoint: proxy.url,
      },
      { maxAttempts: 2 },
    );

  it('resumes a download that breaks off mid-body, delivering every record exactly once', async () => {
    expect(bigBody.length).toBeGreaterThan(40_000);
    proxy.setRules([
      { match: { method: 'GET', path: /big\.gz/ }, action: { truncateAfterBytes: 20_000 }, times: 2 },
      { match: { method: 'GET', path: /small-1/ }, action: { status: 503, flavour: 's3' }, times: 2 },
    ]);
    const s3 = await viaProxy();
    try {
      const seen = new Map<string, number>();
      const outcomes = await readObjects(s3, bucket, await listObjects(s3, bucket, [prefix]), {
        sleep: async () => {},
        onRecords: (recs) => {
          for (const r of recs) {
            const id = (r as Aggregate).id;
            seen.set(id, (seen.get(id) ?? 0) + 1);
          }
        },
      });
      const bigOut = outcomes.find((o) => o.key.endsWith('big.gz'));
      expect(bigOut?.problem).toBeUndefined();
      expect(bigOut?.records).toBe(3000);
      // The first GET and the truncated first resume, then a resume that completes.
      expect(bigOut?.requests).toBe(3);
      expect(bigOut?.bytes).toBe(bigBody.length);
      expect(outcomes.find((o) => o.key.endsWith('small-1.gz'))?.problem).toBeUndefined();
      expect(seen.size).toBe(3002);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(proxy.stats.fired).toEqual([2, 2]);
    } finally {
      s3.destroy();
      proxy.setRules([]);
    }
  });

  it('reports an object S3 keeps refusing, by key, and reads the others', async () => {
    proxy.setRules([{ match: { method: 'GET', path: /small-2/ }, action: { status: 503, flavour: 's3' } }]);
    const s3 = await viaProxy();
    try {
      const out = await readResults(s3, {
        bucket,
        range: { fromMs: W, toMs: W + MIN },
        raw: false,
        windowMs: MIN,
        maxFutureSkewMs: 86_400_000,
        nowMs: W + HOUR,
        maxAttempts: 2,
        sleep: async () => {},
      });
      expect(out.doc.objects.unreadable).toBe(1);
      expect(out.doc.problems).toHaveLength(1);
      expect(out.doc.problems[0]).toMatchObject({ key: `${prefix}small-2.gz`, kind: 's3', salvaged: 0 });
      expect(out.doc.problems[0]?.message).toMatch(/SlowDown/);
      expect(out.totals.get('EUR')).toEqual({ count: 2, totalMinor: 20 });
      expect(out.totals.get('USD')?.count).toBe(3000);
    } finally {
      s3.destroy();
      proxy.setRules([]);
    }
  });
});
