/**
 * `paypipe demo` and `paypipe up` through the built bin, as a user runs them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../helpers/build.js';
import { waitFor } from '../../helpers/wait-for.js';
import { isPidAlive, type LocalEndpoints, readLocalEndpoints } from '../../../src/local/endpoints.js';
import { readJsonSync } from '../../../src/local/files.js';
import type { LocalStatus } from '../../../src/local/status.js';
import {
  expectedCells,
  makeEvents,
  readMergedAggregates,
  readRawEvents,
  sendEvents,
  startTestPipeline,
  tempDataDir,
  toCells,
} from '../../helpers/local-pipeline.js';

const root = new URL('../../..', import.meta.url).pathname;
const bin = join(root, 'bin/paypipe.js');
const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`paypipe ${args.join(' ')} timed out\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

const until = <T>(what: string, f: () => T | undefined, timeoutMs = 20_000): Promise<T> =>
  waitFor(f, what, timeoutMs, 50);

/** Every `paypipe up` a test starts; killed after the tests whatever happened. */
const upChildren: ChildProcess[] = [];
afterAll(() => {
  for (const c of upChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startUp(dataDir: string): {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exited: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [bin, 'up', '--data-dir', dataDir, '--no-schedule', '--buffer-interval', '1'],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  upChildren.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => {
    out.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out.stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

const endpointsOf = (dataDir: string, pid: number | undefined) =>
  readJsonSync<LocalEndpoints>(join(dataDir, 'endpoints.json'))?.pid === pid
    ? (readJsonSync<LocalEndpoints>(join(dataDir, 'endpoints.json')) as LocalEndpoints)
    : undefined;

beforeAll(() => {
  ensureBuilt();
});

describe('paypipe demo (built bin)', () => {
  it('runs the whole pipeline, prints the table, the chart and a passing totals check', async () => {
    const r = await run(['demo']);
    expect(r.stderr).not.toMatch(/Error:|\n\s+at /);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/window \(UTC\)\s+currency\s+count\s+total\s+avg\s+min\s+max/);
    expect(r.stdout).toMatch(/✓ USD\s+[\d,]+ payments/);
    expect(r.stdout).toMatch(/✓ dead letters\s+5 of 5 malformed records/);
    expect(r.stdout).toContain('All totals match.');
    expect(r.stdout).not.toContain('✗');
    // Reproducible: the total number of payments across currencies is what was sent.
    const counts = [...r.stdout.matchAll(/✓ [A-Z]{3}\s+([\d,]+) payments/g)].map((m) =>
      Number(m[1]?.replace(/,/g, '')),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2000);
  });

  it('--json prints one document with the checks', async () => {
    const r = await run(['demo', '--json', '--count', '300', '--seed', '5', '--malformed', '2']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      sent: { events: number };
      checks: Array<{ ok: boolean; actualCount: number }>;
    };
    expect(doc.ok).toBe(true);
    expect(doc.sent.events).toBe(300);
    expect(doc.checks.reduce((a, c) => a + c.actualCount, 0)).toBe(300);
  });

  it('bad flags: one line, exit 2', async () => {
    const r = await run(['demo', '--count', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--count must be a whole number from 1 to 100,000');
  });
});

describe('paypipe up (built bin)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('refuses a second up on the same data dir; SIGTERM stops cleanly with exit 0', async () => {
    const dataDir = tempDataDir('up');
    dirs.push(dataDir);
    const up = startUp(dataDir);
    const ep = await until('endpoints.json', () => endpointsOf(dataDir, up.child.pid));
    expect(ep.kinesisEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await readLocalEndpoints(dataDir)).pid).toBe(up.child.pid);

    const second = await run(['up', '--data-dir', dataDir, '--no-schedule']);
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain(`a local pipeline is already running in ${dataDir}`);

    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    expect(up.out.stdout).toContain('Local pipeline stopped cleanly');
    expect(existsSync(join(dataDir, 'endpoints.json'))).toBe(false);
    expect(readJsonSync<LocalStatus>(join(dataDir, 'status.json'))?.running).toBe(false);
    await expect(readLocalEndpoints(dataDir)).rejects.toMatchObject({ code: 'LOCAL_NOT_RUNNING' });
    await until('server child exit', () => !isPidAlive(ep.serverPid as number), 5000);
  });

  it('after SIGKILL of `paypipe up` mid-flight, its servers die and a restart loses nothing', async () => {
    const dataDir = tempDataDir('upkill');
    dirs.push(dataDir);
    const up = startUp(dataDir);
    const ep = await until('endpoints.json', () => endpointsOf(dataDir, up.child.pid));
    const { kinesisClient } = await import('../../../src/aws/clients.js');
    const { localTarget } = await import('../../../src/local/endpoints.js');
    const { resolveConfig } = await import('../../../src/pipeline/config.js');
    const kinesis = await kinesisClient(localTarget(ep));
    const now = Date.now();
    const events = makeEvents(3000, { startMs: now - 3 * 60_000, spanMs: 3 * 60_000, seed: 31 });
    await sendEvents({ kinesis, config: resolveConfig(ep.configOverrides) } as never, events);
    kinesis.destroy();
    // Let it get some way through, then kill it without warning.
    await until(
      'some progress',
      () => (readJsonSync<LocalStatus>(join(dataDir, 'status.json'))?.eventsIn ?? 0) > 0,
    );
    up.child.kill('SIGKILL');
    await up.exited;
    await until('server child exit', () => !isPidAlive(ep.serverPid as number), 5000);
    await expect(readLocalEndpoints(dataDir)).rejects.toMatchObject({ code: 'LOCAL_NOT_RUNNING' });

    // A new pipeline takes the stale data dir over and finishes the job.
    const p = await startTestPipeline({ dataDir });
    try {
      await p.waitForIdle({ timeoutMs: 40_000 });
      const merged = await readMergedAggregates(p);
      expect(merged.issues).toEqual([]);
      expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
      const raw = (await readRawEvents(p)) as Array<{ transaction_id: string }>;
      expect(raw).toHaveLength(events.length);
    } finally {
      await p.stop({ flush: true });
    }
  });
});
