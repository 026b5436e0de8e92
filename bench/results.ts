/**
 * `paypipe results` against its ceilings, in the same run, interleaved, on s3rver over real HTTP:
 *
 * - the bare SDK script (bench/ceilings/results-sdk.mjs): ListObjectsV2 paginator over the same
 *   hour prefixes, GetObject at the same concurrency, gunzip, JSON.parse, a Map — the best a
 *   plain implementation does, without paypipe's guarantees (strict checks, the merge rule,
 *   damage handling, bounded memory). Its per-currency totals must equal paypipe's or the bench
 *   fails;
 * - the original recipe (`aws s3 ls`, then `aws s3 cp s3://… - | gunzip -c` per object, the `aws`
 *   found on PATH), over the hour only (a Python process per object); skipped with the reason
 *   printed when there is no `aws` (or with --quick).
 *
 * Scaling: an hour (60 objects), a day (1,440) and a week (10,080), one object a minute as the
 * analytics Firehose writes them (~4 KB of gzip: 30 batch outputs from 2 shards, 5 currencies).
 * Each size lives in its own bucket. Every run is a fresh process (CLI start included on both
 * sides); wall time, CPU (user + system) and peak RSS come from the kernel's accounting of that
 * process (bench/ceilings/rusage-preload.mjs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { BenchRow } from './types.js';
import { renderBatchOutput } from '../src/domain/batch-output.js';
import {
  BatchOutputSource,
  type ChildRun,
  count,
  interleave,
  log,
  median,
  onPath,
  pairedRatio,
  profileNodeRun,
  QUICK,
  repoRoot,
  runNode,
  spread,
} from './_util.js';

const BATCHES_PER_OBJECT = 30;
const CONCURRENCY = 16;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface Size {
  name: 'hour' | 'day' | 'week';
  objects: number;
  rounds: number;
}
const SIZES: Size[] = QUICK
  ? [
      { name: 'hour', objects: 60, rounds: 3 },
      { name: 'day', objects: 1_440, rounds: 2 },
    ]
  : [
      { name: 'hour', objects: 60, rounds: 5 },
      { name: 'day', objects: 1_440, rounds: 5 },
      { name: 'week', objects: 10_080, rounds: 3 },
    ];
const RECIPE_ROUNDS = 2;

interface Totals {
  byCurrency: Record<string, { count: number; totalMinor: number }>;
  cells: number;
}

export { BatchOutputSource };

export async function run(): Promise<BenchRow[]> {
  const root = repoRoot();
  spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  const dist = (p: string): Promise<unknown> => import(pathToFileURL(join(root, 'dist', p)).href);
  const { startLocalServers } = (await dist('local/servers.js')) as typeof import('../src/local/servers.js');
  const { s3Client } = (await dist('aws/clients.js')) as typeof import('../src/aws/clients.js');
  const { resolveConfig, PREFIXES } = (await dist(
    'pipeline/config.js',
  )) as typeof import('../src/pipeline/config.js');
  const { hourPrefixes, partitionPrefix } = (await dist(
    'pipeline/partitions.js',
  )) as typeof import('../src/pipeline/partitions.js');
  const { writeLocalEndpoints } = (await dist(
    'local/endpoints.js',
  )) as typeof import('../src/local/endpoints.js');
  const { parseExactTotal } = (await dist(
    'pipeline/send-summary.js',
  )) as typeof import('../src/pipeline/send-summary.js');
  const { CreateBucketCommand, PutObjectCommand } = createRequire(join(root, 'package.json'))(
    '@aws-sdk/client-s3',
  ) as typeof import('@aws-sdk/client-s3');

  const config = resolveConfig({});
  const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-bench-results-'));
  const servers = await startLocalServers({ dataDir, region: config.region });
  const target = {
    kind: 'local' as const,
    region: config.region,
    kinesisEndpoint: servers.kinesisEndpoint,
    s3Endpoint: servers.s3Endpoint,
  };
  const s3 = await s3Client(target);
  // The week ends at the last midnight (results' time flags reach back a month at most).
  const end = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const rows: BenchRow[] = [];
  try {
    writeLocalEndpoints(dataDir, {
      pid: process.pid,
      kinesisEndpoint: servers.kinesisEndpoint,
      s3Endpoint: servers.s3Endpoint,
      region: config.region,
      startedAt: new Date().toISOString(),
      configOverrides: {},
    });
    const measured: Record<string, { paypipe: ChildRun[]; sdk: ChildRun[] }> = {};
    for (const size of SIZES) {
      const bucket = `bench-results-${size.name}`;
      const fromMs = end - size.objects * 60_000;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // One object a minute, each that minute's batch outputs (as Firehose buffers them).
      const source = new BatchOutputSource(2, 1, renderBatchOutput);
      let bytes = 0;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < size.objects) {
            const m = next++;
            const minute = fromMs + m * 60_000;
            let text = '';
            for (let i = 0; i < BATCHES_PER_OBJECT; i++) text += source.line(minute);
            const body = gzipSync(text);
            bytes += body.length;
            const key = `${partitionPrefix(PREFIXES.aggregations, minute)}paypipe-bench-analytics-${m}.gz`;
            await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          }
        }),
      );
      log(
        `${size.name}: ${count(size.objects)} objects (${(bytes / size.objects / 1024).toFixed(1)} KiB gzip each), ${count(size.objects * BATCHES_PER_OBJECT)} batch outputs, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      const prefixes = hourPrefixes(PREFIXES.aggregations, fromMs, end - 1 + HOUR_MS);
      const iso = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16)}Z`;
      const paypipeArgs = [
        join(root, 'bin/paypipe.js'),
        'results',
        '--local',
        '--data-dir',
        dataDir,
        '--bucket',
        bucket,
        '--from',
        iso(fromMs),
        '--to',
        iso(end),
        '--concurrency',
        String(CONCURRENCY),
        '--format',
        'json',
      ];
      const sdkArgs = [
        join(root, 'bench/ceilings/results-sdk.mjs'),
        JSON.stringify({
          endpoint: servers.s3Endpoint,
          region: config.region,
          bucket,
          prefixes,
          concurrency: CONCURRENCY,
        }),
      ];
      let expected: Totals | undefined;
      const check = (who: string, t: Totals): void => {
        const key = `${JSON.stringify(Object.entries(t.byCurrency).sort())}|${t.cells}`;
        if (expected === undefined) expected = t;
        const want = `${JSON.stringify(Object.entries(expected.byCurrency).sort())}|${expected.cells}`;
        if (key !== want) throw new Error(`${size.name}: ${who}'s totals differ: ${key} vs ${want}`);
      };
      const subjects = {
        paypipe: (): ChildRun => {
          const r = runNode(paypipeArgs);
          const doc = JSON.parse(r.stdout) as {
            complete: boolean;
            records: number;
            aggregates: unknown[];
            byCurrency: Record<string, { count: number; total: string }>;
          };
          if (!doc.complete || doc.records !== size.objects * BATCHES_PER_OBJECT)
            throw new Error(`${size.name}: paypipe read ${doc.records} records, complete ${doc.complete}`);
          check('paypipe', {
            cells: doc.aggregates.length,
            byCurrency: Object.fromEntries(
              Object.entries(doc.byCurrency).map(([c, s]) => [
                c,
                { count: s.count, totalMinor: parseExactTotal(s.total, c) as number },
              ]),
            ),
          });
          return r;
        },
        sdk: (): ChildRun => {
          const r = runNode(sdkArgs);
          const t = JSON.parse(r.stdout) as Totals & { records: number };
          if (t.records !== size.objects * BATCHES_PER_OBJECT)
            throw new Error(`${size.name}: the SDK script read ${t.records} records`);
          check('the bare SDK script', t);
          return r;
        },
      };
      const s = await interleave(size.rounds, subjects, (n, r, x) =>
        log(
          `${size.name} round ${r + 1} ${n}: ${x.wallS.toFixed(2)} s wall, ${x.cpuS.toFixed(2)} s CPU, peak RSS ${x.maxRssMiB.toFixed(0)} MiB`,
        ),
      );
      measured[size.name] = s;
      const wall = (xs: ChildRun[]): number[] => xs.map((x) => x.wallS);
      const cpu = (xs: ChildRun[]): number[] => xs.map((x) => x.cpuS);
      const pw = spread(wall(s.paypipe));
      const sw = spread(wall(s.sdk));
      const throughput = pairedRatio(wall(s.sdk), wall(s.paypipe));
      const cpuRatio = pairedRatio(cpu(s.paypipe), cpu(s.sdk));
      const perObjectMs = (x: number): number => (x * 1000) / size.objects;
      // Profile evidence for a missed target, at this size.
      const bound =
        throughput < 0.9 || cpuRatio > 1.15
          ? `profiles of one run each over the ${size.name}, paypipe: ${profileNodeRun(paypipeArgs)}; the bare SDK script: ${profileNodeRun(sdkArgs)}. ${RESULTS_WOULD_TAKE}`
          : undefined;
      rows.push({
        id: `results-${size.name}-throughput`,
        figure: `results over ${size.name === 'hour' ? 'an' : 'a'} ${size.name} (${count(size.objects)} objects): wall time per object`,
        unit: 'ms/object',
        paypipe: perObjectMs(pw.median),
        paypipeSpread: [perObjectMs(pw.lo), perObjectMs(pw.hi)],
        ceilingName: `bare SDK script (concurrency ${CONCURRENCY})`,
        ceiling: perObjectMs(sw.median),
        ceilingSpread: [perObjectMs(sw.lo), perObjectMs(sw.hi)],
        ratio: throughput,
        target: '≥ 0.9× throughput',
        met: throughput >= 0.9,
        ...(throughput >= 0.9 ? {} : { bound }),
        rounds: size.rounds,
        note: 'process start included on both sides; identical per-currency totals and cell counts checked every run',
      });
      const pc = spread(cpu(s.paypipe));
      const sc = spread(cpu(s.sdk));
      rows.push({
        id: `results-${size.name}-cpu`,
        figure: `results over ${size.name === 'hour' ? 'an' : 'a'} ${size.name}: CPU (user + system)`,
        unit: 's',
        paypipe: pc.median,
        paypipeSpread: [pc.lo, pc.hi],
        ceilingName: 'bare SDK script',
        ceiling: sc.median,
        ceilingSpread: [sc.lo, sc.hi],
        ratio: cpuRatio,
        target: '≤ 1.15× CPU',
        met: cpuRatio <= 1.15,
        ...(cpuRatio <= 1.15 ? {} : { bound }),
        rounds: size.rounds,
      });
      const pr = spread(s.paypipe.map((x) => x.maxRssMiB));
      const sr = spread(s.sdk.map((x) => x.maxRssMiB));
      rows.push({
        id: `results-${size.name}-rss`,
        figure: `results over ${size.name === 'hour' ? 'an' : 'a'} ${size.name}: peak RSS`,
        unit: 'MiB',
        paypipe: pr.median,
        paypipeSpread: [pr.lo, pr.hi],
        ceilingName: 'bare SDK script',
        ceiling: sr.median,
        ceilingSpread: [sr.lo, sr.hi],
        ratio: pr.median / sr.median,
        target: '—',
        met: null,
        rounds: size.rounds,
      });

      if (size.name === 'hour')
        rows.push(recipe(size, bucket, prefixes, servers.s3Endpoint, config.region, paypipeArgs));
    }
    const day = measured.day;
    const week = measured.week;
    if (day !== undefined && week !== undefined) {
      const d = median(day.paypipe.map((x) => x.maxRssMiB));
      const w = median(week.paypipe.map((x) => x.maxRssMiB));
      rows.push({
        id: 'results-week-vs-day-rss',
        figure: 'results: peak RSS over a week vs over a day',
        unit: 'MiB',
        paypipe: w,
        ceilingName: 'the same over a day',
        ceiling: d,
        ratio: w / d,
        target: '≤ 1.2×',
        met: w / d <= 1.2,
        ...(w / d <= 1.2 ? {} : { bound: `${mergeStatePerOutput(root)} ${RSS_WOULD_TAKE}` }),
        note: `bare SDK script: ${median(week.sdk.map((x) => x.maxRssMiB)).toFixed(0)} MiB over a week, ${median(day.sdk.map((x) => x.maxRssMiB)).toFixed(0)} over a day`,
      });
    } else {
      log('week size skipped (--quick): no week-vs-day RSS figure');
    }
    return rows;
  } finally {
    s3.destroy();
    await servers.stop().catch(() => servers.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const RESULTS_WOULD_TAKE =
  "Both sides pay the same SDK cost per GetObject; the difference is paypipe checking every output (SHA-256 digest of its cells, strict amounts, the average check) and keeping each one until the chain is chosen, then rendering every merged row. What it would take: hashing the digest text in native code without the JS string build (a digest over the raw bytes would change the output format), and merging a shard's outputs as soon as they are known contiguous instead of at the end";

const RSS_WOULD_TAKE =
  "The merge rule picks, per shard, a chain of complete outputs only when all are in (a redelivery with other boundaries may come in any later object), so every output is held to the end, as a row of typed columns with its packed sequence numbers and cells: memory grows with outputs, not only with windows × currencies. What it would take: folding a shard's outputs into a running chain early, which is exact only with a bound on how late a redelivery can come";

/** Bytes (heap and array buffers) the merge holds per batch output, measured in a fresh process (--expose-gc). */
function mergeStatePerOutput(root: string): string {
  const url = (p: string): string => JSON.stringify(pathToFileURL(join(root, 'dist', p)).href);
  const script = `
    const { ExactMerger } = await import(${url('domain/exact-merge.js')});
    const { renderBatchOutput } = await import(${url('domain/batch-output.js')});
    const { BatchOutputSource } = await import(${JSON.stringify(pathToFileURL(join(root, 'node_modules/.cache/paypipe-bench/results.mjs')).href)});
    // On globalThis: a merger no code uses after the loop could be collected before it is measured.
    const m = (globalThis.merger = new ExactMerger());
    const src = new BatchOutputSource(2, 1, renderBatchOutput);
    // Heap and array buffers: the merge holds its outputs in typed columns, outside the JS heap.
    const held = () => { const u = process.memoryUsage(); return u.heapUsed + u.arrayBuffers; };
    globalThis.gc(); const h0 = held();
    const n = 50000;
    for (let i = 0; i < n; i++) m.add(JSON.parse(src.line(Date.UTC(2024, 0, 1) + Math.floor(i / 30) * 60000)));
    globalThis.gc();
    process.stdout.write(String((held() - h0) / n));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  const perOutput = Number(r.stdout);
  return Number.isFinite(perOutput)
    ? `Measured in this run: the merge holds ${Math.round(perOutput)} bytes (heap and buffers) per batch output (a week here is ${count(10_080 * BATCHES_PER_OBJECT)} outputs, ${((perOutput * 10_080 * BATCHES_PER_OBJECT) / 2 ** 20).toFixed(0)} MiB; a day ${((perOutput * 1_440 * BATCHES_PER_OBJECT) / 2 ** 20).toFixed(0)} MiB).`
    : `(merge state measurement failed: ${r.stderr.slice(0, 200)})`;
}

/**
 * The original recipe over the hour, interleaved with paypipe: `aws s3 ls`, then one
 * `aws s3 cp … - | gunzip -c` per object, in sequence. The `aws` on PATH, warmed up like paypipe.
 */
function recipe(
  size: Size,
  bucket: string,
  prefixes: string[],
  endpoint: string,
  region: string,
  paypipeArgs: string[],
): BenchRow {
  const row = (extra: Partial<BenchRow>): BenchRow => ({
    id: 'results-hour-vs-recipe',
    figure: `results over an hour vs the original recipe (aws s3 ls + aws s3 cp | gunzip per object)`,
    unit: 's',
    paypipe: Number.NaN,
    ceilingName: 'aws CLI recipe',
    ceiling: null,
    ratio: null,
    target: '≥ 20× faster',
    met: null,
    ...extra,
  });
  const aws = onPath('aws');
  const skipped = QUICK
    ? 'not run with --quick (a Python process per object)'
    : aws === undefined
      ? 'no `aws` on PATH'
      : undefined;
  if (skipped !== undefined || aws === undefined) {
    log(`recipe skipped: ${skipped}`);
    return row({ skipped, paypipe: 0 });
  }
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_DEFAULT_REGION: region,
    AWS_PAGER: '',
  };
  const version = spawnSync(aws, ['--version'], { encoding: 'utf8', env });
  const awsVersion = `${version.stdout}${version.stderr}`.trim().split(/\s/)[0] ?? 'aws';
  const lines = (keys: string[]): number => {
    let n = 0;
    for (const k of keys) {
      // The endpoint flag: AWS CLI 1.x and early 2.x predate AWS_ENDPOINT_URL.
      const r = spawnSync(
        'sh',
        ['-c', `"$AWS" s3 cp --endpoint-url "$EP" "s3://${bucket}/${k}" - | gunzip -c`],
        {
          encoding: 'utf8',
          env: { ...env, AWS: aws, EP: endpoint },
          maxBuffer: 64 * 2 ** 20,
        },
      );
      n += r.stdout.split('\n').filter((l) => l !== '').length;
    }
    return n;
  };
  const list = (): string[] => {
    const keys: string[] = [];
    for (const p of prefixes) {
      const ls = spawnSync(aws, ['s3', 'ls', `s3://${bucket}/${p}`, '--endpoint-url', endpoint], {
        encoding: 'utf8',
        env,
      });
      // An empty prefix exits 1 with nothing listed.
      for (const l of ls.stdout.split('\n'))
        if (l.trim() !== '') keys.push(p + (l.trim().split(/\s+/).at(-1) as string));
    }
    return keys;
  };
  const ours: number[] = [];
  const theirs: number[] = [];
  // Warm-up for both: paypipe once, the recipe's list and one copy (Python's imports, page cache).
  runNode(paypipeArgs);
  lines(list().slice(0, 1));
  for (let r = 0; r < RECIPE_ROUNDS; r++) {
    const order = r % 2 === 0 ? ['paypipe', 'recipe'] : ['recipe', 'paypipe'];
    for (const who of order) {
      if (who === 'paypipe') ours.push(runNode(paypipeArgs).wallS);
      else {
        const t0 = performance.now();
        const n = lines(list());
        if (n !== size.objects * BATCHES_PER_OBJECT) throw new Error(`the recipe read ${n} lines`);
        theirs.push((performance.now() - t0) / 1000);
      }
      log(`hour round ${r + 1} ${who}: ${(who === 'paypipe' ? ours : theirs).at(-1)?.toFixed(2)} s`);
    }
  }
  const p = spread(ours);
  const c = spread(theirs);
  const ratio = pairedRatio(theirs, ours);
  return row({
    paypipe: p.median,
    paypipeSpread: [p.lo, p.hi],
    ceiling: c.median,
    ceilingSpread: [c.lo, c.hi],
    ratio,
    met: ratio >= 20,
    rounds: RECIPE_ROUNDS,
    note: `${awsVersion} from PATH; the recipe only prints the lines (no merging, no checks)`,
  });
}
