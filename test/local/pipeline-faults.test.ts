/**
 * The local pipeline (in process, real kinesalite + s3rver) under the faults an operator meets:
 * - the analytics bucket deleted while it runs: deliveries park with the reason (in the status,
 *   for doctor); a stop ends within its deadline, saving what it could not deliver; a restart
 *   (which recreates the bucket) delivers it first — merged totals exact, raw events once;
 * - hurry() (the second Ctrl-C) cuts a stop with no deadline short at once;
 * - the data dir removed: a named fault within a second, and no writer recreates the directory;
 * - the disk full (ENOSPC injected into the data dir's writes: a small file system cannot be
 *   mounted here): a named fault naming the file, not a silent stall; after space is back a
 *   restart loses nothing;
 * - a damaged status file: readers get one line naming it.
 */
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import { existsSync, rmSync, writeFileSync as realWriteFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readLocalStatus } from '../../src/local/status.js';
import {
  expectedCells,
  makeEvents,
  readMergedAggregates,
  readRawEvents,
  sendEvents,
  startTestPipeline,
  type TestPipeline,
  tempDataDir,
  toCells,
} from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

/** Writes under `failUnder` fail with ENOSPC while it is set (the disk-full adversary). */
const disk = vi.hoisted(() => ({ failUnder: undefined as string | undefined }));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const full = (path: unknown): boolean =>
    disk.failUnder !== undefined && typeof path === 'string' && path.startsWith(disk.failUnder);
  const enospc = (path: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'open',
      path,
    });
  const writeFileSync: typeof real.writeFileSync = (file, ...rest) => {
    if (full(file)) throw enospc(file as string);
    return real.writeFileSync(file, ...rest);
  };
  const appendFileSync: typeof real.appendFileSync = (file, ...rest) => {
    if (full(file)) throw enospc(file as string);
    return real.appendFileSync(file, ...rest);
  };
  return { ...real, default: { ...real, writeFileSync, appendFileSync }, writeFileSync, appendFileSync };
});

const dirs: string[] = [];
let live: TestPipeline[] = [];
afterEach(async () => {
  disk.failUnder = undefined;
  for (const p of live) await p.cleanup();
  live = [];
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(
  dataDir: string,
  o: Parameters<typeof startTestPipeline>[0] = {},
): Promise<TestPipeline> {
  const p = await startTestPipeline({ dataDir, ...o });
  live.push(p);
  return p;
}

const until = <T>(what: string, f: () => T | undefined | false, ms = 20_000): Promise<T> =>
  waitFor(f, what, ms, 25);

describe('the analytics bucket deleted while the pipeline runs', () => {
  it('parks with the reason, stops within its deadline, and a restart delivers every record exactly', async () => {
    const dataDir = tempDataDir('bucket-gone');
    dirs.push(dataDir);
    const p = await start(dataDir);
    await p.s3.send(new DeleteBucketCommand({ Bucket: p.config.buckets.analytics }));
    const now = Date.now();
    const events = makeEvents(100, { startMs: now - 2 * 60_000, spanMs: 2 * 60_000, seed: 18 });
    await sendEvents(p, events);

    const parked = await until('analytics deliveries to park', () => p.status().firehose.analytics.parked);
    expect(parked).toMatchObject({ kind: 'bucket-missing', bucket: p.config.buckets.analytics });
    expect(parked.fix).toContain(`s3 mb s3://${p.config.buckets.analytics}`);
    // The status file says so too (what `doctor --local` reads).
    await until(
      'status.json to show it',
      async () => (await readLocalStatus(dataDir))?.firehose.analytics.parked,
    );
    // The raw bucket is fine: every raw event delivered.
    await until('raw events delivered', () => p.status().rawEventsDelivered === 100);

    const t0 = performance.now();
    const report = await p.stop({ flush: true, deadlineMs: 1500 });
    const took = performance.now() - t0;
    expect(took).toBeLessThan(1500 + 1500);
    expect(report.complete).toBe(false);
    expect(report.cutShort).toBe(true);
    expect(report.pending).toHaveLength(1);
    const pending = report.pending[0];
    expect(pending).toMatchObject({
      name: p.config.firehose.analytics.name,
      dir: join(dataDir, 'pending', p.config.firehose.analytics.name),
      reason: `bucket ${p.config.buckets.analytics} does not exist`,
    });
    expect(pending?.records).toBeGreaterThan(0);
    const after = await readLocalStatus(dataDir);
    expect(after?.running).toBe(false);
    expect(after?.stopped).toMatchObject({ complete: false, cutShort: true });

    // The restart recreates the bucket and delivers what was saved first.
    const q = await start(dataDir);
    await q.waitForIdle({ timeoutMs: 30_000 });
    const merged = await readMergedAggregates(q);
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
    const raw = (await readRawEvents(q)) as Array<{ transaction_id: string }>;
    expect(raw).toHaveLength(100);
    expect(existsSync(join(dataDir, 'pending', p.config.firehose.analytics.name))).toBe(true);
    expect(q.status().firehose.analytics.pendingObjects).toBe(0);
  });

  it('hurry() (a second signal) ends a stop that has no deadline at once', async () => {
    const dataDir = tempDataDir('hurry');
    dirs.push(dataDir);
    const p = await start(dataDir);
    await p.s3.send(new DeleteBucketCommand({ Bucket: p.config.buckets.analytics }));
    await sendEvents(p, makeEvents(20, { startMs: Date.now() - 60_000, spanMs: 60_000, seed: 3 }));
    await until('analytics deliveries to park', () => p.status().firehose.analytics.parked);
    const stopping = p.stop({ flush: true });
    // The first stop waits (the bucket will not come back); the hurry ends it.
    const t0 = performance.now();
    p.hurry();
    const report = await stopping;
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(report.cutShort).toBe(true);
    expect(report.pending.reduce((n, x) => n + x.records, 0)).toBeGreaterThan(0);
  });
});

describe('the data dir removed while the pipeline runs', () => {
  it('is a named fault within a second, and nothing recreates the directory', async () => {
    const dataDir = tempDataDir('dir-gone');
    dirs.push(dataDir);
    const p = await start(dataDir, { statusIntervalMs: 100 });
    await sendEvents(p, makeEvents(50, { startMs: Date.now() - 60_000, spanMs: 60_000, seed: 4 }));
    await p.waitForIdle({ timeoutMs: 20_000 });
    rmSync(dataDir, { recursive: true, force: true });
    const t0 = performance.now();
    const fault = await p.fault;
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(fault).toMatchObject({
      kind: 'data-dir-lost',
      message: `the data directory ${dataDir} was removed while the local pipeline was running`,
    });
    // Status writes (every 100 ms here) and checkpoints must not bring a half directory back.
    await sendEvents(p, makeEvents(10, { startMs: Date.now() - 60_000, spanMs: 60_000, seed: 5 })).catch(
      () => {},
    );
    // A status write was attempted after the removal, and refused.
    await until('a refused status write', () =>
      /status\.json: .*was removed/.test(p.status().lastError ?? ''),
    );
    await p.stop({ flush: false });
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('the disk full under the data dir', () => {
  it('is a named fault naming the file (not a silent stall); after space is back nothing is lost', async () => {
    const dataDir = tempDataDir('enospc');
    dirs.push(dataDir);
    const p = await start(dataDir, { statusIntervalMs: 200 });
    const now = Date.now();
    const first = makeEvents(400, { startMs: now - 3 * 60_000, spanMs: 3 * 60_000, seed: 6, prefix: 'A' });
    await sendEvents(p, first);
    await until('some progress', () => p.status().eventsIn > 0);
    disk.failUnder = dataDir;
    const second = makeEvents(300, { startMs: now - 3 * 60_000, spanMs: 3 * 60_000, seed: 7, prefix: 'B' });
    await sendEvents(p, second);
    const fault = await p.fault;
    expect(fault.kind).toBe('storage');
    expect(fault.message).toMatch(new RegExp(`no space left on the device \\(ENOSPC\\) writing ${dataDir}/`));
    const report = await p.stop({ flush: true, deadlineMs: 0 });
    // What could not be saved stays on the streams (their checkpoints did not move).
    for (const x of report.pending) expect(x.unsaved?.reason ?? '').toMatch(/ENOSPC|^$/);
    disk.failUnder = undefined;

    const q = await start(dataDir);
    await q.waitForIdle({ timeoutMs: 30_000 });
    const merged = await readMergedAggregates(q);
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells([...first, ...second], 60));
    const raw = (await readRawEvents(q)) as Array<{ transaction_id: string }>;
    expect(new Set(raw.map((r) => r.transaction_id)).size).toBe(700);
  });
});

describe('a damaged status file', () => {
  it('reads as one DATA error naming the file', async () => {
    const dataDir = tempDataDir('status');
    dirs.push(dataDir);
    const file = join(dataDir, 'status.json');
    realWriteFileSync(file, '{"pid": 1, "running": tru');
    await expect(readLocalStatus(dataDir)).rejects.toMatchObject({
      code: 'DATA',
      message: expect.stringMatching(new RegExp(`^${file} is corrupt: not JSON`)),
    });
    realWriteFileSync(file, '{"pid": "x"}');
    await expect(readLocalStatus(dataDir)).rejects.toMatchObject({
      code: 'DATA',
      message: `${file} is corrupt: "pid" is not a number`,
    });
  });
});
