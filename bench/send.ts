/**
 * `paypipe send` throughput against the local Kinesis (kinesalite in the local pipeline's server
 * child), median of 3 runs of 100,000 events each, against:
 * - the ceiling: a bare-SDK PutRecords loop with the same concurrency over records generated
 *   beforehand (no generation, no tallying, no retry bookkeeping in the timed part);
 * - the naive recipe: one PutRecord call per event, in sequence (measured on 2,000 events, the
 *   rate extrapolated).
 * Plus pacing accuracy (--rate over 10 s) and memory: peak RSS of a 10,000,000-event send
 * (generation + batching + sender) into a client that accepts every request at once, so the figure
 * is paypipe's own footprint, against a 1,000,000-event send (flat = the same plateau).
 *
 * The measured code runs from dist/ (imported by absolute URL) so its packages resolve from the
 * repository wherever this file was bundled to.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchRow } from './types.js';
import { log, median, repoRoot } from './_util.js';

const EVENTS = 100_000;
const NAIVE_EVENTS = 2_000;
const RUNS = 3;
const CONCURRENCY = 8;
const MEMORY_EVENTS = 10_000_000;
const PACE_RATE = 2_000;
const PACE_EVENTS = 20_000;

/** Sends `count` events into an instant client in a fresh process; its peak RSS and time. */
function peakRss(root: string, count: number): { rssMiB: number; seconds: number } {
  const script = `
    const { runSend, generatedItems } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/cli/send/send-run.js')).href)});
    const accepting = { send: async (cmd) => ({ FailedRecordCount: 0, Records: cmd.input.Records.map(() => ({ SequenceNumber: '1', ShardId: 'shardId-000000000000' })) }) };
    const t0 = performance.now();
    const r = await runSend(accepting, 'memory', generatedItems({ seed: 3, clock: Date.now }), { count: ${count} });
    if (r.sent !== ${count}) throw new Error('sent ' + r.sent);
    process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, seconds: (performance.now() - t0) / 1000 }));
  `;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  if (out.status !== 0) throw new Error(`memory run failed: ${out.stderr}`);
  const r = JSON.parse(out.stdout) as { maxRssKiB: number; seconds: number };
  return { rssMiB: r.maxRssKiB / 1024, seconds: r.seconds };
}

type Mod = Record<string, unknown>;

export async function run(): Promise<BenchRow[]> {
  const root = repoRoot();
  spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  const dist = (p: string): Promise<Mod> => import(pathToFileURL(join(root, 'dist', p)).href) as Promise<Mod>;
  const { startLocalServers } = (await dist(
    'local/servers.js',
  )) as unknown as typeof import('../src/local/servers.js');
  const { kinesisClient } = (await dist(
    'aws/clients.js',
  )) as unknown as typeof import('../src/aws/clients.js');
  const { runSend, generatedItems } = (await dist(
    'cli/send/send-run.js',
  )) as unknown as typeof import('../src/cli/send/send-run.js');
  const { generateEvents, recordData, recordPartitionKey } = (await dist(
    'domain/generator.js',
  )) as unknown as typeof import('../src/domain/generator.js');
  // The bundle lives in a temp dir: resolve the SDK from the checkout.
  const { CreateStreamCommand, PutRecordCommand, PutRecordsCommand } = createRequire(
    join(root, 'package.json'),
  )('@aws-sdk/client-kinesis') as typeof import('@aws-sdk/client-kinesis');

  const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-bench-send-'));
  const servers = await startLocalServers({ dataDir, region: 'ap-southeast-2' });
  const client = await kinesisClient({
    kind: 'local',
    region: 'ap-southeast-2',
    kinesisEndpoint: servers.kinesisEndpoint,
    s3Endpoint: servers.s3Endpoint,
  });
  let streamNo = 0;
  const freshStream = async (): Promise<string> => {
    const name = `bench-send-${++streamNo}`;
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    return name;
  };
  const prebuilt = (seed: number, n: number): Array<{ Data: Uint8Array; PartitionKey: string }> => {
    const out: Array<{ Data: Uint8Array; PartitionKey: string }> = [];
    for (const r of generateEvents({ seed, nowMs: Date.now() })) {
      out.push({ Data: Buffer.from(recordData(r)), PartitionKey: recordPartitionKey(r) });
      if (out.length >= n) break;
    }
    return out;
  };

  const paypipe: number[] = [];
  const ceiling: number[] = [];
  try {
    // Warm-up: sockets, JIT, kinesalite's leveldb.
    await runSend(client, await freshStream(), generatedItems({ seed: 1, clock: Date.now }), {
      count: 5_000,
    });
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order so neither side always runs on a warmer (or fuller) server.
      const order = i % 2 === 0 ? ['paypipe', 'ceiling'] : ['ceiling', 'paypipe'];
      for (const which of order) {
        const stream = await freshStream();
        if (which === 'paypipe') {
          const t0 = performance.now();
          const r = await runSend(client, stream, generatedItems({ seed: 100 + i, clock: Date.now }), {
            count: EVENTS,
            concurrency: CONCURRENCY,
          });
          const s = (performance.now() - t0) / 1000;
          if (r.sent !== EVENTS) throw new Error(`paypipe sent ${r.sent} of ${EVENTS}`);
          paypipe.push(EVENTS / s);
          log(`run ${i + 1} paypipe: ${Math.round(EVENTS / s).toLocaleString('en-US')} events/s`);
        } else {
          const records = prebuilt(100 + i, EVENTS);
          let next = 0;
          const t0 = performance.now();
          await Promise.all(
            Array.from({ length: CONCURRENCY }, async () => {
              while (next < records.length) {
                const batch = records.slice(next, next + 500);
                next += 500;
                await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
              }
            }),
          );
          const s = (performance.now() - t0) / 1000;
          ceiling.push(EVENTS / s);
          log(`run ${i + 1} bare SDK: ${Math.round(EVENTS / s).toLocaleString('en-US')} events/s`);
        }
      }
    }
    const naiveStream = await freshStream();
    const naiveRecords = prebuilt(7, NAIVE_EVENTS);
    const t0 = performance.now();
    for (const r of naiveRecords) await client.send(new PutRecordCommand({ StreamName: naiveStream, ...r }));
    const naive = NAIVE_EVENTS / ((performance.now() - t0) / 1000);
    log(
      `naive PutRecord loop: ${Math.round(naive).toLocaleString('en-US')} events/s (${NAIVE_EVENTS} events)`,
    );

    // Pacing accuracy: 20,000 events at 2,000/s is a 10 s run.
    const paceStream = await freshStream();
    const tp = performance.now();
    const paced = await runSend(client, paceStream, generatedItems({ seed: 8, clock: Date.now }), {
      count: PACE_EVENTS,
      rate: PACE_RATE,
    });
    const achieved = paced.sent / ((performance.now() - tp) / 1000);
    log(
      `paced at ${PACE_RATE}/s: achieved ${achieved.toFixed(1)}/s over ${(PACE_EVENTS / PACE_RATE).toFixed(0)} s`,
    );

    // Memory: the real generator, batching and sender into a client that accepts at once, each
    // size in a fresh process (peak RSS from the kernel's own accounting).
    // 1M is past V8's heap warm-up; flat means 10× the events barely move the peak.
    const small = peakRss(root, 1_000_000);
    log(`1M events: peak RSS ${small.rssMiB.toFixed(0)} MiB (${small.seconds.toFixed(1)} s)`);
    const big = peakRss(root, MEMORY_EVENTS);
    log(
      `10M events: peak RSS ${big.rssMiB.toFixed(0)} MiB (${big.seconds.toFixed(1)} s, ${Math.round(MEMORY_EVENTS / big.seconds).toLocaleString('en-US')} events/s)`,
    );

    const p = median(paypipe);
    const c = median(ceiling);
    return [
      {
        figure: `send ${EVENTS.toLocaleString('en-US')} events, local Kinesis (vs bare-SDK PutRecords ceiling)`,
        paypipe: p,
        baseline: c,
        unit: 'events/s',
        ratio: p / c,
        target: '≥ 0.8× ceiling',
        met: p / c >= 0.8,
        note: `median of ${RUNS}; concurrency ${CONCURRENCY} both; ceiling sends pre-generated records`,
      },
      {
        figure: 'send throughput vs naive one-PutRecord-per-event loop',
        paypipe: p,
        baseline: naive,
        unit: 'events/s',
        ratio: p / naive,
        target: '≥ 15× naive',
        met: p / naive >= 15,
        note: `naive measured on ${NAIVE_EVENTS.toLocaleString('en-US')} events, rate extrapolated`,
      },
      {
        figure: `send --rate ${PACE_RATE} for ${PACE_EVENTS.toLocaleString('en-US')} events: achieved rate`,
        paypipe: achieved,
        baseline: PACE_RATE,
        unit: 'events/s',
        ratio: achieved / PACE_RATE,
        target: 'within ±5% of --rate',
        met: Math.abs(achieved / PACE_RATE - 1) <= 0.05,
        note: 'baseline = the requested rate',
      },
      {
        figure: 'send 10,000,000 events: peak RSS (vs 1,000,000 events)',
        paypipe: big.rssMiB,
        baseline: small.rssMiB,
        unit: 'MiB',
        ratio: small.rssMiB / big.rssMiB,
        target: 'flat: ≤ 1.25× the 1M run',
        met: big.rssMiB <= small.rssMiB * 1.25,
        note: 'fresh process each; client accepts every request at once (paypipe-side memory only)',
      },
    ];
  } finally {
    client.destroy();
    await servers.stop().catch(() => servers.kill());
    rmSync(dataDir, { recursive: true, force: true });
  }
}
