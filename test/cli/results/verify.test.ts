/**
 * `results --verify`: window by window against the send summary.
 *
 * Adversaries:
 * - time: aggregates still in the Firehose buffer right after a send. Short windows within the
 *   in-flight horizon are "pending" (exit 1, VERIFY_PENDING, "N windows may still be in the
 *   Firehose buffer (up to 60 s)"), never a MISMATCH; after the horizon they are a mismatch;
 *   `--wait` reads again until they arrive.
 * - other traffic: payments in other windows of the range are left out (the old per-currency
 *   comparison called them a mismatch); more payments than sent in one of the summary's windows is a
 *   mismatch that says "other traffic", not "lost data".
 * - any mix: a fast-check property over random cells, deliveries and clocks.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify, type VerifyInput, verifyHeadline } from '../../../src/cli/results/verify.js';
import { type Aggregate, aggregateId, renderAggregate } from '../../../src/domain/aggregate.js';
import { encodeNdjson } from '../../../src/pipeline/codec.js';
import { hourPrefixes } from '../../../src/pipeline/partitions.js';
import { cellKey, type SendSummaryDoc } from '../../../src/pipeline/send-summary.js';
import type { ResultsDoc } from '../../../src/cli/results/results.js';
import { type BuiltCli, buildCli, runCli } from '../../helpers/build-cli.js';
import { startTestServers, type TestServers } from '../../helpers/cli.js';

const MIN = 60_000;

let seq = 0;
function agg(windowMs: number, currency: string, count: number, totalMinor: number): Aggregate {
  const id = aggregateId(
    { shardId: 'shardId-000000000000', firstSequenceNumber: String(++seq), lastSequenceNumber: String(seq) },
    new Date(windowMs).toISOString(),
    currency,
  );
  return renderAggregate(id, windowMs, MIN, currency, {
    count,
    totalMinor,
    minMinor: 1,
    maxMinor: totalMinor,
  });
}

describe('verify(): the verdict', () => {
  const W = Date.UTC(2024, 4, 1, 9, 30);
  const range = { fromMs: W - 10 * MIN, toMs: W + 10 * MIN };
  const input = (finishedMs: number): VerifyInput => ({
    file: 's.json',
    totals: new Map([['USD', { count: 5, totalMinor: 500 }]]),
    windows: new Map([
      [cellKey(W, 'USD'), { count: 3, totalMinor: 300 }],
      [cellKey(W + MIN, 'USD'), { count: 2, totalMinor: 200 }],
    ]),
    finishedMs,
  });
  const ctx = (nowMs: number) => ({ nowMs, range, bufferSeconds: 60, inFlightMs: 65_000 });
  const totalsOf = (aggs: Aggregate[]) => {
    const m = new Map<string, { count: number; totalMinor: number }>();
    for (const a of aggs) {
      const t = m.get(a.currency) ?? { count: 0, totalMinor: 0 };
      t.count += a.transaction_count;
      t.totalMinor += Math.round(a.total_amount * 100);
      m.set(a.currency, t);
    }
    return m;
  };

  it('short right after the send: pending, with the buffer named; later: a mismatch', () => {
    const aggs = [agg(W, 'USD', 3, 300)];
    const sent = W + 2 * MIN;
    const soon = verify(input(sent), aggs, totalsOf(aggs), ctx(sent + 10_000));
    expect(soon.status).toBe('pending');
    expect(verifyHeadline(soon)).toBe(
      '1 window may still be in the Firehose buffer (up to 60 s, until 09:33:05 UTC)',
    );
    const later = verify(input(sent), aggs, totalsOf(aggs), ctx(sent + 10 * MIN));
    expect(later.status).toBe('mismatch');
    expect(verifyHeadline(later)).toBe('aggregates differ from s.json: 1 window short');
  });

  it('other windows of the range are not part of the send: left out', () => {
    const aggs = [agg(W - 5 * MIN, 'USD', 40, 4000), agg(W, 'USD', 3, 300), agg(W + MIN, 'USD', 2, 200)];
    const v = verify(input(W), aggs, totalsOf(aggs), ctx(W + 10 * MIN));
    expect(v.status).toBe('match');
    expect(v.windows?.compared).toBe(2);
  });

  it('more than sent in a window of the send: a mismatch that says so, even right after the send', () => {
    const aggs = [agg(W, 'USD', 4, 350), agg(W + MIN, 'USD', 2, 200)];
    const v = verify(input(W + 2 * MIN), aggs, totalsOf(aggs), ctx(W + 2 * MIN + 1000));
    expect(v.status).toBe('mismatch');
    expect(verifyHeadline(v)).toMatch(/1 window with more payments than sent/);
  });

  it('property: match iff every cell matches; pending iff only short cells and still in flight', () => {
    const cell = fc.record({
      w: fc.integer({ min: 0, max: 5 }),
      c: fc.constantFrom('USD', 'EUR', 'JPY'),
      n: fc.integer({ min: 1, max: 50 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(cell, { minLength: 1, maxLength: 12, selector: (x) => `${x.w}|${x.c}` }),
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: 200_000 }),
        (cells, deltas, elapsed) => {
          const windows = new Map(
            cells.map((x) => [cellKey(W + x.w * MIN, x.c), { count: x.n, totalMinor: x.n * 100 }]),
          );
          const aggs = cells
            .map((x, i) => ({ ...x, got: Math.max(0, x.n + (deltas[i] ?? 0)) }))
            .filter((x) => x.got > 0)
            .map((x) => agg(W + x.w * MIN, x.c, x.got, x.got * 100));
          const finishedMs = W + 6 * MIN;
          const v = verify(
            { file: 'f', totals: new Map(), windows, finishedMs },
            aggs,
            totalsOf(aggs),
            ctx(finishedMs + elapsed),
          );
          const diffs = cells.map((x, i) => Math.max(0, x.n + (deltas[i] ?? 0)) - x.n);
          const expected = diffs.every((d) => d === 0)
            ? 'match'
            : diffs.every((d) => d <= 0) && elapsed < 65_000
              ? 'pending'
              : 'mismatch';
          expect(v.status).toBe(expected);
          expect(v.ok).toBe(expected === 'match');
        },
      ),
    );
  });
});

describe('results --verify through the built CLI (real s3rver)', () => {
  let cli: BuiltCli;
  let env: TestServers;
  let work: string;
  beforeAll(async () => {
    [cli, env] = await Promise.all([buildCli(), startTestServers()]);
    work = mkdtempSync(join(tmpdir(), 'paypipe-verify-'));
  }, 60_000);
  afterAll(async () => {
    await env?.close();
    cli?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  let n = 0;
  /** Aggregates as Firehose writes them: one gzip object under the arrival hour of `arrivalMs`. */
  const deliver = async (aggs: Aggregate[], arrivalMs: number): Promise<void> => {
    const [prefix] = hourPrefixes('aggregations/', arrivalMs, arrivalMs);
    await env.s3.send(
      new PutObjectCommand({
        Bucket: env.config.buckets.analytics,
        Key: `${prefix}delivery-${++n}.gz`,
        Body: gzipSync(encodeNdjson(aggs)),
      }),
    );
  };
  /**
   * A send summary as `send --json` writes it, for these windows, all in one currency (each test its
   * own where windows near "now" may coincide across tests).
   */
  const summary = (cells: Array<[number, number, number]>, finishedMs: number, currency = 'USD'): string => {
    const f = join(work, `summary-${++n}.json`);
    const count = cells.reduce((s, [, c]) => s + c, 0);
    const total = cells.reduce((s, [, , t]) => s + t, 0);
    const doc: Partial<SendSummaryDoc> = {
      kind: 'paypipe.send-summary',
      version: 1,
      finishedAt: new Date(finishedMs).toISOString(),
      eventTime: {
        from: new Date(Math.min(...cells.map(([w]) => w))).toISOString(),
        to: new Date(Math.max(...cells.map(([w]) => w)) + 59_000).toISOString(),
      },
      byCurrency: { [currency]: { count, total: (total / 100).toFixed(2) } },
      byWindow: cells.map(([w, c, t]) => ({
        window_start: new Date(w).toISOString(),
        currency,
        count: c,
        total: (t / 100).toFixed(2),
      })),
      windowSeconds: 60,
    };
    writeFileSync(f, JSON.stringify(doc));
    return f;
  };
  const local = (): string[] => ['--local', '--data-dir', env.dataDir];
  const lastJson = (stderr: string): { error: Record<string, unknown> } =>
    JSON.parse(stderr.trim().split('\n').at(-1) ?? '') as { error: Record<string, unknown> };

  it('traffic in other windows of --since is left out (the old per-currency check called it a mismatch)', async () => {
    const W = Date.UTC(2024, 4, 2, 9, 30);
    await deliver(
      [agg(W - 10 * MIN, 'USD', 50, 99_999), agg(W, 'USD', 3, 300), agg(W + MIN, 'USD', 2, 250)],
      W + 2 * MIN,
    );
    const f = summary(
      [
        [W, 3, 300],
        [W + MIN, 2, 250],
      ],
      W + 2 * MIN,
    );
    // In the old spelling first (the old code took it too, and called this a mismatch).
    const old = await runCli(cli, [
      'results',
      ...local(),
      '--verify',
      f,
      '--from',
      '2024-05-02T09:00Z',
      '--to',
      '2024-05-02T10:00Z',
    ]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stdout).toMatch(/verify against .*: match/);
    const r = await runCli(cli, [
      'results',
      ...local(),
      '--verify',
      f,
      '--since',
      '2024-05-02T09:00Z',
      '--until',
      '2024-05-02T10:00Z',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as ResultsDoc;
    expect(doc.verify).toMatchObject({ status: 'match', ok: true, windows: { compared: 2 } });
  });

  it('right after a send, short windows are pending (not a mismatch); long after, a mismatch', async () => {
    const now = Date.now();
    const W = Math.floor(now / MIN) * MIN - MIN;
    await deliver([agg(W, 'USD', 2, 200)], now);
    const fresh = summary([[W, 3, 300]], now);
    const r = await runCli(cli, ['results', ...local(), '--verify', fresh, '--json']);
    expect(r.code).toBe(1);
    expect(lastJson(r.stderr).error).toMatchObject({
      code: 'VERIFY_PENDING',
      message: expect.stringMatching(/^1 window may still be in the Firehose buffer \(up to 60 s/),
      hint: expect.stringMatching(/run it again in a minute, or add --wait/),
    });
    expect((JSON.parse(r.stdout) as ResultsDoc).verify?.status).toBe('pending');
    const human = await runCli(cli, ['results', ...local(), '--verify', fresh]);
    expect(human.stdout).toMatch(/not yet/);
    expect(human.stdout).not.toMatch(/MISMATCH/);

    const stale = summary([[W, 3, 300]], now - 10 * MIN);
    const s = await runCli(cli, ['results', ...local(), '--verify', stale, '--json']);
    expect(s.code).toBe(1);
    expect(lastJson(s.stderr).error).toMatchObject({
      code: 'VERIFY_MISMATCH',
      message: expect.stringMatching(/1 window short/),
    });
  });

  it('--wait reads again until the missing aggregates arrive', { timeout: 60_000 }, async () => {
    const now = Date.now();
    const W = Math.floor(now / MIN) * MIN - 2 * MIN;
    const f = summary([[W, 4, 400]], now, 'GBP');
    const child = spawn(process.execPath, [cli.bin, 'results', ...local(), '--verify', f, '--wait', '45s'], {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? '',
        NO_COLOR: '1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exit = new Promise<number | null>((res) => child.on('close', res));
    const deadline = Date.now() + 40_000;
    while (!/reading again/.test(stderr) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/1 window may still be in the Firehose buffer .*; reading again in \d+ s/);
    await deliver([agg(W, 'GBP', 4, 400)], Date.now());
    expect(await exit, stderr).toBe(0);
    expect(stdout).toMatch(/verify against .*: match/);
  });

  it('more payments than sent: a mismatch that points at other traffic, with a hint that keeps --local', async () => {
    const W = Date.UTC(2024, 4, 3, 12, 0);
    await deliver([agg(W, 'USD', 7, 700)], W + MIN);
    const f = summary([[W, 5, 500]], W + MIN);
    const r = await runCli(cli, ['results', ...local(), '--verify', f]);
    expect(r.code).toBe(1);
    const line = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(line).toMatch(/^paypipe: aggregates differ from .*: 1 window with more payments than sent \(/);
    expect(line).toContain(`\`paypipe schedule --disable --local --data-dir ${env.dataDir}\``);
  });
});
