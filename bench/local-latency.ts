/**
 * Local pipeline latency: (1) from sending 10,000 events to all their aggregates readable (and
 * exactly right) in S3, with a 1 s Firehose buffer interval, median of 3 runs; (2) the wall time
 * of `paypipe demo` through the built bin, median of 3.
 *
 * The measuring code runs from dist/ (imported by absolute URL), so its packages resolve from the
 * repository wherever this bench file was bundled to.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { measureEndToEnd as MeasureFn } from '../src/local/latency-probe.js';
import type { BenchRow } from './types.js';
import { median, repoRoot } from './_util.js';

const RUNS = 3;
const EVENTS = 10_000;

export async function run(): Promise<BenchRow[]> {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/local/latency-probe.js'))) {
    spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  }
  const { measureEndToEnd } = (await import(
    pathToFileURL(join(root, 'dist/local/latency-probe.js')).href
  )) as {
    measureEndToEnd: typeof MeasureFn;
  };

  // The functions run from the stack's bundles: synthesized once (cached) before anything is timed.
  const { prepareLocalAssembly } = (await import(
    pathToFileURL(join(root, 'dist/cli/local-assembly.js')).href
  )) as typeof import('../src/cli/local-assembly.js');
  const { resolveConfig } = (await import(
    pathToFileURL(join(root, 'dist/pipeline/config.js')).href
  )) as typeof import('../src/pipeline/config.js');
  const { dir: assembly } = await prepareLocalAssembly(resolveConfig({}));

  const latencies: number[] = [];
  const sends: number[] = [];
  let allMatched = true;
  for (let i = 0; i < RUNS; i++) {
    const r = await measureEndToEnd({ count: EVENTS, seed: 1000 + i, bufferIntervalSeconds: 1, assembly });
    allMatched &&= r.matched;
    latencies.push(r.endToEndMs / 1000);
    sends.push(r.sendMs / 1000);
    process.stderr.write(
      `  run ${i + 1}: ${(r.endToEndMs / 1000).toFixed(2)} s end to end (send ${(r.sendMs / 1000).toFixed(2)} s, ${r.cells} cells, ${r.matched ? 'exact' : 'MISMATCH'})\n`,
    );
  }

  const demo: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/paypipe.js'), 'demo'], {
      cwd: root,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      encoding: 'utf8',
    });
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`paypipe demo exited ${r.status}: ${r.stderr}`);
    demo.push(s);
    process.stderr.write(`  demo run ${i + 1}: ${s.toFixed(2)} s\n`);
  }

  const lat = median(latencies);
  const dm = median(demo);
  return [
    {
      id: 'latency-send-to-s3',
      figure: `send ${EVENTS.toLocaleString('en-US')} events → aggregates in S3 (local, 1 s Firehose buffer)`,
      paypipe: lat,
      ceilingName: null,
      ceiling: null,
      unit: 's',
      ratio: null,
      target: '≤ 5 s',
      met: allMatched && lat <= 5,
      note: `median of ${RUNS}; of which sending ${median(sends).toFixed(2)} s; totals ${allMatched ? 'exact in every run' : 'MISMATCHED'}`,
    },
    {
      id: 'demo-wall',
      figure: 'paypipe demo wall time (built bin, 2,000 events)',
      paypipe: dm,
      ceilingName: null,
      ceiling: null,
      unit: 's',
      ratio: null,
      target: '< 30 s',
      met: dm < 30,
      note: `median of ${RUNS}`,
    },
  ];
}
