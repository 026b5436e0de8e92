/**
 * Memory of the built CLI as a user runs it (a private esbuild of src/ in a temp dir, so it never
 * races another run's `npm run build`), against the real local servers (kinesalite + s3rver):
 *
 * 1. `paypipe results --local` over ≥ 200 MB of uncompressed aggregation data (gzip objects in one
 *    hour's partition of the analytics bucket): peak RSS (getrusage maxRSS of the CLI process,
 *    recorded at exit by a preloaded module) against the naive recipe run on the same bucket in a
 *    fresh process — list, download every object, gunzip, parse every line into memory, then
 *    merge — and the floor, `node -e 0`. Target: < 200 MB.
 * 2. `paypipe send --local --count 10000000` for 60 s, then Ctrl-C: RSS sampled every second from
 *    /proc/<pid>/status; median of the first 5 samples after a 20 s warm-up (V8 grows its heap
 *    to a plateau first) vs the last 5. Target: flat (growth < 30 MiB), i.e. memory does not grow
 *    with the number of events sent. Every sample is in the note.
 *
 * Run with `node scripts/bench.mjs memory` (or PAYPIPE_MEMORY_MB=400 for a bigger data set).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { BenchRow } from './types.js';
import { renderBatchOutput } from '../src/domain/batch-output.js';
import { BatchOutputSource, log, median, repoRoot } from './_util.js';

const TARGET_MB = Number(process.env.PAYPIPE_MEMORY_MB ?? 200);
const OBJECT_BYTES = 10 * 1000 * 1000;
const SEND_SECONDS = Number(process.env.PAYPIPE_MEMORY_SEND_SECONDS ?? 60);
/** V8 sizes its heap up over the first ~20 s of a send; flatness is judged after that. */
const WARM_UP_SECONDS = 20;
const DAY = Date.UTC(2024, 1, 1);
const PREFIX = 'aggregations/year=2024/month=02/day=01/hour=00/';

/** The project's own build (scripts/build.mjs --out) into <dir>/dist, with bin/, package.json and node_modules. */
async function privateBuild(root: string, dir: string): Promise<string> {
  spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--out', join(dir, 'dist')], {
    cwd: root,
    stdio: 'inherit',
  });

  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(root, 'bin', 'paypipe.js'), join(dir, 'bin', 'paypipe.js'));
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'bin', 'paypipe.js');
}

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  NO_COLOR: '1',
});

/** Peak RSS (MiB) of a node process, via a preload that writes getrusage maxRSS at exit. */
function runMeasured(
  preload: string,
  args: string[],
  cwd: string,
): { maxRssMiB: number; seconds: number; stdout: string; status: number | null; stderr: string } {
  const out = join(cwd, `rss-${process.hrtime.bigint()}.txt`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(preload).href, ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 512 * 2 ** 20,
    env: { ...env(), PAYPIPE_BENCH_RSS_FILE: out },
  });
  const seconds = (performance.now() - t0) / 1000;
  const kib = Number(readFileSync(out, 'utf8'));
  return { maxRssMiB: kib / 1024, seconds, stdout: r.stdout, status: r.status, stderr: r.stderr };
}

function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) / 1024;
  } catch {
    return undefined;
  }
}

export async function run(): Promise<BenchRow[]> {
  const root = repoRoot();
  const work = mkdtempSync(join(tmpdir(), 'paypipe-bench-memory-'));
  const rows: BenchRow[] = [];
  const children: ChildProcess[] = [];
  try {
    const bin = await privateBuild(root, join(work, 'cli'));
    const dist = (p: string): Promise<unknown> => import(pathToFileURL(join(work, 'cli', 'dist', p)).href);
    const { startLocalServers, provisionResources } = (await dist(
      'local/servers.js',
    )) as typeof import('../src/local/servers.js');
    const { kinesisClient, s3Client } = (await dist(
      'aws/clients.js',
    )) as typeof import('../src/aws/clients.js');
    const { resolveConfig } = (await dist(
      'pipeline/config.js',
    )) as typeof import('../src/pipeline/config.js');
    const { writeLocalEndpoints } = (await dist(
      'local/endpoints.js',
    )) as typeof import('../src/local/endpoints.js');
    const { PutObjectCommand } = createRequire(join(root, 'package.json'))(
      '@aws-sdk/client-s3',
    ) as typeof import('@aws-sdk/client-s3');

    const preload = join(work, 'rss-preload.mjs');
    writeFileSync(
      preload,
      `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  if (process.env.PAYPIPE_BENCH_RSS_FILE) writeFileSync(process.env.PAYPIPE_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS));
});\n`,
    );

    const config = resolveConfig({});
    const dataDir = join(work, 'data');
    const servers = await startLocalServers({ dataDir, region: config.region });
    const target = {
      kind: 'local' as const,
      region: config.region,
      kinesisEndpoint: servers.kinesisEndpoint,
      s3Endpoint: servers.s3Endpoint,
    };
    const kinesis = await kinesisClient(target);
    const s3 = await s3Client(target);
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

      // 1. results over ≥ TARGET_MB of uncompressed aggregates.
      const bucket = config.buckets.analytics;
      let written = 0;
      let objects = 0;
      let lines = 0;
      // Batch outputs of 4 shards, 4 windows × 5 currencies each (~20 cells, ~3.7 KB a line).
      const source = new BatchOutputSource(4, 4, renderBatchOutput);
      while (written < TARGET_MB * 1000 * 1000) {
        const parts: string[] = [];
        let size = 0;
        for (let i = 0; size < OBJECT_BYTES; i++) {
          const line = source.line(DAY + (i % 57) * 60_000);
          parts.push(line);
          size += line.length;
        }
        lines += parts.length;
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${PREFIX}paypipe-dev-analytics-1-2024-02-01-00-${String(objects).padStart(3, '0')}.gz`,
            Body: gzipSync(parts.join(''), { level: 1 }),
          }),
        );
        written += size;
        objects++;
      }
      log(
        `${objects} objects, ${(written / 1e6).toFixed(0)} MB uncompressed, ${lines.toLocaleString('en-US')} batch outputs`,
      );

      const cli = runMeasured(
        preload,
        [bin, 'results', '--local', '--data-dir', dataDir, '--date', '2024-02-01', '--hour', '0', '--json'],
        work,
      );
      if (cli.status !== 0) throw new Error(`paypipe results failed: ${cli.stderr}`);
      const doc = JSON.parse(cli.stdout) as { records: number };
      if (doc.records !== lines) throw new Error(`paypipe results read ${doc.records} of ${lines} records`);
      log(`paypipe results: peak RSS ${cli.maxRssMiB.toFixed(0)} MiB, ${cli.seconds.toFixed(1)} s`);

      // The naive recipe, same bucket, fresh process: everything in memory, then merge.
      const naiveScript = join(work, 'naive.mjs');
      writeFileSync(
        naiveScript,
        `import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
const require = createRequire(${JSON.stringify(join(root, 'package.json'))});
const { S3Client, ListObjectsV2Command, GetObjectCommand } = require('@aws-sdk/client-s3');
const s3 = new S3Client({ region: ${JSON.stringify(config.region)}, endpoint: ${JSON.stringify(servers.s3Endpoint)}, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
const keys = [];
let token;
do {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: ${JSON.stringify(bucket)}, Prefix: ${JSON.stringify(PREFIX)}, ContinuationToken: token }));
  for (const o of out.Contents ?? []) keys.push(o.Key);
  token = out.IsTruncated ? out.NextContinuationToken : undefined;
} while (token);
const all = [];
for (const k of keys) {
  const o = await s3.send(new GetObjectCommand({ Bucket: ${JSON.stringify(bucket)}, Key: k }));
  const text = gunzipSync(await o.Body.transformToByteArray()).toString('utf8');
  for (const line of text.split('\\n')) if (line !== '') all.push(JSON.parse(line));
}
const cells = new Map();
for (const a of all.flatMap((r) => r.aggregates ?? [r])) {
  const k = a.window_start + a.currency;
  const c = cells.get(k) ?? { n: 0, t: 0 };
  c.n += a.transaction_count; c.t += a.total_amount;
  cells.set(k, c);
}
process.stdout.write(JSON.stringify({ records: all.length, cells: cells.size }));
s3.destroy();\n`,
      );
      const naive = runMeasured(preload, [naiveScript], work);
      if (naive.status !== 0) throw new Error(`naive recipe failed: ${naive.stderr}`);
      const floor = runMeasured(preload, ['-e', '0'], work);
      log(
        `naive read-all-then-parse: peak RSS ${naive.maxRssMiB.toFixed(0)} MiB, ${naive.seconds.toFixed(1)} s; node -e 0: ${floor.maxRssMiB.toFixed(0)} MiB`,
      );
      rows.push({
        id: 'memory-results-200mb',
        figure: `results over ${(written / 1e6).toFixed(0)} MB of uncompressed aggregates (built CLI): peak RSS`,
        paypipe: cli.maxRssMiB,
        ceilingName: 'naive read-all-then-parse',
        ceiling: naive.maxRssMiB,
        unit: 'MiB',
        ratio: cli.maxRssMiB / naive.maxRssMiB,
        target: '< 200 MB',
        met: cli.maxRssMiB * 1024 * 1024 < 200 * 1000 * 1000,
        note: `${objects} gzip objects, ${lines.toLocaleString('en-US')} records in ${cli.seconds.toFixed(1)} s; baseline: naive read-all-then-parse of the same bucket (${naive.seconds.toFixed(1)} s); node -e 0 is ${floor.maxRssMiB.toFixed(0)} MiB`,
      });

      // 2. send --count 10,000,000 into kinesalite: RSS over time.
      if (!existsSync('/proc/self/status')) {
        log('no /proc: RSS sampling of send skipped');
      } else {
        const child = spawn(
          process.execPath,
          [bin, 'send', '--local', '--data-dir', dataDir, '--count', '10000000', '--seed', '7', '--json'],
          { cwd: work, env: env(), stdio: ['ignore', 'pipe', 'ignore'] },
        );
        children.push(child);
        let summary = '';
        child.stdout?.on('data', (d: Buffer) => {
          summary += d.toString();
        });
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        const pid = child.pid as number;
        const samples: Array<{ t: number; mib: number }> = [];
        const t0 = performance.now();
        while (performance.now() - t0 < SEND_SECONDS * 1000 && child.exitCode === null) {
          await new Promise((r) => setTimeout(r, 1000));
          const mib = rssMiB(pid);
          if (mib !== undefined) samples.push({ t: (performance.now() - t0) / 1000, mib });
        }
        // Ctrl-C: send stops pulling, finishes what is in flight and prints its summary.
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
        let sent = Number.NaN;
        try {
          sent = (JSON.parse(summary) as { sent: number }).sent;
        } catch {
          // killed before it could print: the count stays unknown
        }
        const settled = samples.filter((s) => s.t >= Math.min(WARM_UP_SECONDS, SEND_SECONDS / 3));
        if (settled.length < 10) throw new Error(`only ${settled.length} RSS samples from send`);
        const first = median(settled.slice(0, 5).map((s) => s.mib));
        const last = median(settled.slice(-5).map((s) => s.mib));
        const max = Math.max(...settled.map((s) => s.mib));
        log(
          `send --count 10000000: ${sent} sent; RSS ${settled.map((s) => s.mib.toFixed(0)).join(' ')} MiB (first ${first.toFixed(0)}, last ${last.toFixed(0)}, max ${max.toFixed(0)})`,
        );
        rows.push({
          id: 'memory-send-growth',
          figure: `send --count 10,000,000 (built CLI, local Kinesis), RSS growth over ${SEND_SECONDS} s after warm-up`,
          paypipe: last - first,
          ceilingName: null,
          ceiling: null,
          unit: 'MiB',
          ratio: null,
          target: 'flat: < 30 MiB growth',
          met: last - first < 30,
          note: `${Number.isNaN(sent) ? 'unknown number of' : sent.toLocaleString('en-US')} events sent before Ctrl-C; median RSS of the first 5 samples after the ${WARM_UP_SECONDS} s warm-up ${first.toFixed(0)} MiB, of the last 5 ${last.toFixed(0)} MiB, max ${max.toFixed(0)} MiB; samples ${samples.map((x) => x.mib.toFixed(0)).join(' ')}`,
        });
      }
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      kinesis.destroy();
      s3.destroy();
      await servers.stop().catch(() => servers.kill());
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}
