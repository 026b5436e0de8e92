/**
 * `paypipe up` (the built bin, a child process) on one data dir, SIGKILLed three times while it is
 * working and restarted each time; 20,000 events sent in chunks along the way. Proven:
 * - after each SIGKILL its API-server child dies too, and no process is left holding the data dir
 *   (no orphans);
 * - every acknowledged event survived the kills (the input stream holds each one exactly once);
 * - once the last `up` has caught up, the merged aggregates in S3 equal the events sent, exactly,
 *   per window and currency — nothing lost, nothing counted twice — and the raw Firehose
 *   delivered every event; a clean SIGTERM then stops it with exit 0 and changes nothing.
 *
 * The kill points are seeded-random delays after each chunk is acknowledged (so a kill lands while
 * the aggregator, the Firehoses and their checkpoints are mid-flight, never during a send: a
 * producer that loses the connection mid-PutRecords may legitimately duplicate records, which is
 * not what this test is about).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinesisClient, s3Client } from '../../src/aws/clients.js';
import { readStream } from '../../src/aws/stream-reader.js';
import { mergeRecords } from '../../src/domain/exact-merge.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { isPidAlive, type LocalEndpoints, localTarget } from '../../src/local/endpoints.js';
import { readRecords } from '../../src/aws/s3-objects.js';
import { buildFullCli } from '../helpers/built-cli.js';
import {
  type Cell,
  expectedCells,
  makeEvents,
  sendEvents,
  tempDataDir,
  toCells,
} from '../helpers/local-pipeline.js';
import type { BuiltCli } from '../helpers/build-cli.js';
import { waitFor } from '../helpers/wait-for.js';
import { seededRandom } from '../proxy/fault-proxy.js';

const SOAK = process.env.PAYPIPE_SOAK === '1';
const EVENTS = SOAK ? 100_000 : 20_000;
const KILLS = SOAK ? 8 : 3;

let cli: BuiltCli;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  cli = await buildFullCli();
  dataDir = tempDataDir('crash');
}, 60_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  cli?.cleanup();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const until = <T>(
  what: string,
  f: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> => waitFor(f, what, ms, 50);

interface Up {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  endpoints: LocalEndpoints;
}

async function startUp(): Promise<Up> {
  const child = spawn(
    process.execPath,
    [cli.bin, 'up', '--data-dir', dataDir, '--no-schedule', '--buffer-interval', '1'],
    {
      cwd: cli.dir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: cli.dir,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  const file = join(dataDir, 'endpoints.json');
  const endpoints = await until(`endpoints.json of up ${child.pid}`, () => {
    if (child.exitCode !== null) throw new Error(`up exited ${child.exitCode}: ${err}`);
    if (!existsSync(file)) return undefined;
    try {
      const ep = JSON.parse(readFileSync(file, 'utf8')) as LocalEndpoints;
      return ep.pid === child.pid ? ep : undefined;
    } catch {
      return undefined; // mid-rename
    }
  });
  return { child, stderr: () => err, exited, endpoints };
}

/** Pids (other than ours) whose command line or environment names the data dir: orphans if any. */
function processesUsing(dir: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const text =
        readFileSync(`/proc/${pid}/cmdline`, 'latin1') + readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (text.includes(dir)) out.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

async function killAndCheck(up: Up): Promise<void> {
  const serverPid = up.endpoints.serverPid as number;
  expect(isPidAlive(serverPid)).toBe(true);
  up.child.kill('SIGKILL');
  expect((await up.exited).signal).toBe('SIGKILL');
  await until(
    `server child ${serverPid} to exit after its up was killed`,
    () => !isPidAlive(serverPid),
    10_000,
  );
  await until('no process left using the data dir', () => processesUsing(dataDir).length === 0, 10_000);
}

describe(`paypipe up SIGKILLed ${KILLS} times over ${EVENTS.toLocaleString('en-US')} events`, () => {
  it('loses nothing, counts nothing twice, leaves no orphans', {
    timeout: SOAK ? 900_000 : 120_000,
  }, async () => {
    const now = Date.now();
    const events = makeEvents(EVENTS, {
      startMs: now - 5 * 60_000,
      spanMs: 5 * 60_000,
      seed: 2024,
      prefix: 'CR',
    });
    const chunks = KILLS + 1;
    const per = Math.ceil(EVENTS / chunks);
    const random = seededRandom(99);
    const config = resolveConfig({});
    const killedAt: string[] = [];

    let up = await startUp();
    for (let c = 0; c < chunks; c++) {
      const kinesis = await kinesisClient(localTarget(up.endpoints));
      try {
        await sendEvents({ kinesis, config } as never, events.slice(c * per, (c + 1) * per));
      } finally {
        kinesis.destroy();
      }
      if (c === chunks - 1) break;
      // A random moment while the chunk is being aggregated and delivered (the kill moment is the fault).
      const delay = Math.floor(random() * 1500);
      await sleep(delay);
      const st = JSON.parse(readFileSync(join(dataDir, 'status.json'), 'utf8')) as {
        eventsIn: number;
        aggregatesOut: number;
      };
      killedAt.push(`chunk ${c + 1} +${delay} ms (in ${st.eventsIn}, aggregates out ${st.aggregatesOut})`);
      await killAndCheck(up);
      up = await startUp();
    }

    // The last `up` catches up: poll S3 (directly) until the counts reach what was sent.
    const s3 = await s3Client(localTarget(up.endpoints));
    const kinesis = await kinesisClient(localTarget(up.endpoints));
    const expected: Cell[] = expectedCells(events, 60);
    const readCells = async (): Promise<{ cells: Cell[]; count: number; raw: number; issues: unknown[] }> => {
      const aggs = await readRecords(s3, config.buckets.analytics, 'aggregations/');
      const raw = await readRecords(s3, config.buckets.raw, 'data/');
      expect([...aggs.errors, ...raw.errors]).toEqual([]);
      const m = mergeRecords(aggs.records);
      expect(m.invalidSamples).toEqual([]);
      const count = m.aggregates.reduce((n, a) => n + a.transaction_count, 0);
      return { cells: toCells(m.aggregates), count, raw: raw.records.length, issues: m.issues };
    };
    try {
      await until(
        'the aggregates and raw events to reach the events sent',
        async () => {
          const r = await readCells();
          return r.count >= EVENTS && r.raw >= EVENTS ? r : undefined;
        },
        60_000,
      );

      // Every acknowledged event survived the kills, once.
      const ids: string[] = [];
      for await (const rec of readStream(kinesis, config.streams.input.name, {
        position: { type: 'trim-horizon' },
        minIntervalMs: 0,
      })) {
        ids.push(
          (JSON.parse(Buffer.from(rec.data).toString('utf8')) as { transaction_id: string }).transaction_id,
        );
      }
      expect(ids.length).toBe(EVENTS);
      expect(new Set(ids).size).toBe(EVENTS);

      // A clean stop delivers whatever was still buffered; the figures must not move.
      up.child.kill('SIGTERM');
      expect(await up.exited, up.stderr()).toEqual({ code: 0, signal: null });
      await until('no process left using the data dir', () => processesUsing(dataDir).length === 0, 10_000);
    } finally {
      s3.destroy();
      kinesis.destroy();
    }

    // Read once more with the servers of a fresh `up` (the last one is stopped).
    up = await startUp();
    const s3b = await s3Client(localTarget(up.endpoints));
    try {
      const aggs = await readRecords(s3b, config.buckets.analytics, 'aggregations/');
      const raw = (await readRecords(s3b, config.buckets.raw, 'data/')).records as Array<{
        transaction_id: string;
      }>;
      const m = mergeRecords(aggs.records);
      expect(m.invalidSamples).toEqual([]);
      expect(m.issues).toEqual([]);
      expect(toCells(m.aggregates)).toEqual(expected);
      // Raw objects may be rewritten after a crash (same key, same bytes): each event once.
      expect(raw.length).toBe(EVENTS);
      expect(new Set(raw.map((e) => e.transaction_id)).size).toBe(EVENTS);
      const dead = await readRecords(s3b, config.buckets.analytics, config.aggregator.deadLetterPrefix);
      expect(dead.records).toEqual([]);
      console.info(
        `crash: ${EVENTS} events, killed at ${killedAt.join('; ')}; ${m.aggregates.length} cells exact, ` +
          `${m.stats.duplicates} duplicate output records, ${m.stats.batchOutputs.superseded} superseded batch outputs`,
      );
    } finally {
      s3b.destroy();
      up.child.kill('SIGTERM');
      await up.exited;
    }
    expect(processesUsing(dataDir)).toEqual([]);
  });
});
