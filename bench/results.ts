/**
 * `paypipe results` over one hour of aggregation objects (60 gzip objects, one per minute, as the
 * analytics Firehose writes them) in the local S3 (s3rver), through the built CLI, median of 5,
 * against the original recipe run for real on the same bucket: `aws s3 ls`, then
 * `aws s3 cp s3://…/key - | gunzip -c` per object (only when /usr/bin/aws exists; else the
 * baseline is null). Plus memory: peak RSS of reading 200 MB of uncompressed aggregates, in a
 * fresh process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { BenchRow } from './types.js';
import { renderBatchOutput } from '../src/domain/batch-output.js';
import { BatchOutputSource, log, median, repoRoot } from './_util.js';

const OBJECTS = 60;
/** Batch outputs per object, 5 cells (currencies) each: 500 aggregates an object, 30,000 an hour. */
const BATCHES_PER_OBJECT = 100;
const AGGREGATES_PER_OBJECT = BATCHES_PER_OBJECT * 5;
const RUNS = 5;
const MEMORY_BYTES = 200 * 1000 * 1000;
const AWS = '/usr/bin/aws';
const HOUR = Date.UTC(2024, 0, 15, 10);

export async function run(): Promise<BenchRow[]> {
  const root = repoRoot();
  spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  const dist = (p: string): Promise<unknown> => import(pathToFileURL(join(root, 'dist', p)).href);
  const { startLocalServers, provisionResources } = (await dist(
    'local/servers.js',
  )) as typeof import('../src/local/servers.js');
  const { kinesisClient, s3Client } = (await dist(
    'aws/clients.js',
  )) as typeof import('../src/aws/clients.js');
  const { resolveConfig } = (await dist('pipeline/config.js')) as typeof import('../src/pipeline/config.js');
  const { writeLocalEndpoints } = (await dist(
    'local/endpoints.js',
  )) as typeof import('../src/local/endpoints.js');
  const { PutObjectCommand } = createRequire(join(root, 'package.json'))(
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
  const kinesis = await kinesisClient(target);
  const s3 = await s3Client(target);
  const bucket = config.buckets.analytics;
  try {
    await provisionResources(config, kinesis, s3);
    writeLocalEndpoints(dataDir, {
      pid: process.pid,
      kinesisEndpoint: servers.kinesisEndpoint,
      s3Endpoint: servers.s3Endpoint,
      region: config.region,
      startedAt: new Date().toISOString(),
      configOverrides: {},
    });
    // One hour: an object per minute, each holding that minute's aggregates from many batches.
    const prefix = 'aggregations/year=2024/month=01/day=15/hour=10/';
    let uncompressed = 0;
    const source = new BatchOutputSource(2, 1, renderBatchOutput);
    for (let m = 0; m < OBJECTS; m++) {
      let text = '';
      for (let i = 0; i < BATCHES_PER_OBJECT; i++) text += source.line(HOUR + m * 60_000);
      uncompressed += text.length;
      const key = `${prefix}paypipe-dev-analytics-firehose-1-2024-01-15-10-${String(m).padStart(2, '0')}-00-${m}.gz`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(text) }));
    }
    log(
      `${OBJECTS} objects, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed, ${OBJECTS * AGGREGATES_PER_OBJECT} aggregates in ${OBJECTS * BATCHES_PER_OBJECT} batch outputs`,
    );

    const cli = (): { seconds: number; aggregates: number } => {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        [
          join(root, 'bin/paypipe.js'),
          'results',
          '--local',
          '--data-dir',
          dataDir,
          '--date',
          '2024-01-15',
          '--hour',
          '10',
          '--json',
        ],
        {
          encoding: 'utf8',
          maxBuffer: 256 * 2 ** 20,
          env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        },
      );
      const seconds = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`paypipe results failed: ${r.stderr}`);
      const doc = JSON.parse(r.stdout) as { records: number; aggregates: unknown[]; complete: boolean };
      if (doc.records !== OBJECTS * BATCHES_PER_OBJECT || !doc.complete)
        throw new Error(`read ${doc.records} records`);
      return { seconds, aggregates: doc.aggregates.length };
    };
    cli(); // warm the page cache and s3rver
    const ours: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = cli();
      ours.push(r.seconds);
      log(`run ${i + 1} paypipe results: ${r.seconds.toFixed(2)} s (${r.aggregates} merged rows)`);
    }

    let baseline: number | null = null;
    let note: string;
    if (existsSync(AWS)) {
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_DEFAULT_REGION: config.region,
        AWS_PAGER: '',
      };
      // AWS CLI 2.9 (Debian) predates AWS_ENDPOINT_URL: the flag it is.
      const ep = `--endpoint-url ${servers.s3Endpoint}`;
      const runs: number[] = [];
      for (let i = 0; i < Math.min(RUNS, 3); i++) {
        const t0 = performance.now();
        const ls = spawnSync(
          AWS,
          ['s3', 'ls', `s3://${bucket}/${prefix}`, '--endpoint-url', servers.s3Endpoint],
          {
            encoding: 'utf8',
            env,
          },
        );
        if (ls.status !== 0) throw new Error(`aws s3 ls failed: ${ls.stderr}`);
        const keys = ls.stdout
          .trim()
          .split('\n')
          .map((l) => l.trim().split(/\s+/).at(-1) as string);
        let lines = 0;
        for (const k of keys) {
          const r = spawnSync(
            'sh',
            ['-c', `${AWS} s3 cp ${ep} "s3://${bucket}/${prefix}${k}" - | gunzip -c`],
            {
              encoding: 'utf8',
              env,
              maxBuffer: 64 * 2 ** 20,
            },
          );
          lines += r.stdout.split('\n').filter((l) => l !== '').length;
        }
        if (lines !== OBJECTS * BATCHES_PER_OBJECT) throw new Error(`aws recipe read ${lines} lines`);
        runs.push((performance.now() - t0) / 1000);
        log(`run ${i + 1} aws s3 ls + cp, gunzip: ${runs.at(-1)?.toFixed(2)} s`);
      }
      baseline = median(runs);
      note = 'recipe only prints the lines (no merging); both against the same s3rver bucket';
    } else {
      note = `no ${AWS} on this machine: baseline not measured`;
    }

    // Memory: 200 MB of uncompressed aggregates in one hour's partition, read in a fresh process.
    const memPrefix = 'aggregations/year=2024/month=02/day=01/hour=00/';
    const perObject = 10 * 1000 * 1000;
    let written = 0;
    let n = 0;
    const big = new BatchOutputSource(4, 4, renderBatchOutput);
    while (written < MEMORY_BYTES) {
      const parts: string[] = [];
      let size = 0;
      for (let i = 0; size < perObject; i++) {
        const line = big.line(Date.UTC(2024, 1, 1, 0, i % 57));
        parts.push(line);
        size += line.length;
      }
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${memPrefix}big-${n++}.gz`,
          Body: gzipSync(parts.join(''), { level: 1 }),
        }),
      );
      written += size;
    }
    log(`memory set: ${n} objects, ${(written / 1e6).toFixed(0)} MB uncompressed`);
    const script = `
      const { readResults } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/cli/results/results.js')).href)});
      const { s3Client } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/aws/clients.js')).href)});
      const s3 = await s3Client(${JSON.stringify(target)});
      const t0 = performance.now();
      const out = await readResults(s3, { bucket: ${JSON.stringify(bucket)}, range: { fromMs: ${Date.UTC(2024, 1, 1)}, toMs: ${Date.UTC(2024, 1, 1, 1)} }, raw: false, windowMs: 60000, maxFutureSkewMs: 86400000, nowMs: Date.now() });
      s3.destroy();
      process.stdout.write(JSON.stringify({ records: out.doc.records, rows: out.doc.aggregates.length, problems: out.doc.problems.length, seconds: (performance.now() - t0) / 1000, maxRssKiB: process.resourceUsage().maxRSS }));
    `;
    const mem = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    if (mem.status !== 0) throw new Error(`memory run failed: ${mem.stderr}`);
    const m = JSON.parse(mem.stdout) as {
      records: number;
      rows: number;
      problems: number;
      seconds: number;
      maxRssKiB: number;
    };
    const rssMiB = m.maxRssKiB / 1024;
    log(
      `200 MB: ${m.records.toLocaleString('en-US')} records → ${m.rows} rows in ${m.seconds.toFixed(1)} s (${(written / 1e6 / m.seconds).toFixed(0)} MB/s), peak RSS ${rssMiB.toFixed(0)} MiB`,
    );

    const p = median(ours);
    return [
      {
        figure: `results over an hour of aggregation objects (${OBJECTS} gzip objects, ${(OBJECTS * AGGREGATES_PER_OBJECT).toLocaleString('en-US')} aggregates)`,
        paypipe: p,
        baseline,
        unit: 's',
        ratio: baseline === null ? null : baseline / p,
        target: '≥ 20× faster than aws s3 ls + cp, gunzip',
        met: baseline === null ? null : baseline / p >= 20,
        note: `median of ${RUNS}, through bin/paypipe.js (process start included); ${note}`,
      },
      {
        figure: `results over ${(written / 1e6).toFixed(0)} MB of uncompressed aggregates: peak RSS`,
        paypipe: rssMiB,
        baseline: null,
        unit: 'MiB',
        ratio: null,
        target: '< 200 MB',
        met: m.maxRssKiB * 1024 < 200 * 1000 * 1000,
        note: `${m.records.toLocaleString('en-US')} records in ${m.seconds.toFixed(1)} s, fresh process`,
      },
    ];
  } finally {
    kinesis.destroy();
    s3.destroy();
    await servers.stop().catch(() => servers.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}
