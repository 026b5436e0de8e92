/**
 * The local gatherer and the probe against ONE real local pipeline (kinesalite + s3rver + the real
 * handlers), in order: healthy → bad records and a failed batch → probe → a hung aggregator (lag,
 * freshness and the probe fail where they should) → the built CLI. Ages are judged with an
 * injected clock moved forward, never by sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, type CheckStatus, type DoctorReport } from '../../../src/cli/doctor/checks.js';
import { gatherLocal } from '../../../src/cli/doctor/gather-local.js';
import type { GatherOptions } from '../../../src/cli/doctor/gather-common.js';
import type { AggregatorHandler } from '../../../src/lambdas/aggregator-handler.js';
import { appendFailedBatch } from '../../../src/local/failed-batches.js';
import { type BuiltCli, buildCli, runCli } from '../../helpers/build-cli.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../../helpers/local-pipeline.js';
import { waitFor } from '../../helpers/ops.js';

let p: TestPipeline;
let cli: BuiltCli;
/** While set, every aggregator invocation waits for it: a hung consumer. */
let gate: Promise<void> | undefined;
let release = (): void => {};
const closeGate = (): void => {
  gate = new Promise<void>((res) => {
    release = res;
  });
};
const openGate = (): void => {
  gate = undefined;
  release();
};

const statuses = (r: DoctorReport): Record<string, CheckStatus> =>
  Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
const check = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};
const opts = (o: Partial<GatherOptions> = {}): GatherOptions => ({
  probe: false,
  timeoutMs: 20_000,
  pollMs: 100,
  ...o,
});
const flags = () => ({ local: true, dataDir: p.dataDir });
const doctor = async (o: Partial<GatherOptions> = {}, now?: () => number) =>
  buildReport(await gatherLocal(flags(), opts(o), now === undefined ? {} : { now }));

beforeAll(async () => {
  [p, cli] = await Promise.all([
    startTestPipeline({
      statusIntervalMs: 100,
      wrapAggregator:
        (h: AggregatorHandler): AggregatorHandler =>
        async (event, context) => {
          if (gate !== undefined) await gate;
          return h(event, context);
        },
    }),
    buildCli(),
  ]);
});
afterAll(async () => {
  openGate();
  await p?.cleanup();
  cli?.cleanup();
});

describe('gatherLocal', () => {
  it('passes a healthy pipeline and says n/a, not pass, where a check has no local meaning', async () => {
    await sendEvents(p, makeEvents(40, { startMs: Date.now() - 60_000, spanMs: 60_000, prefix: 'OK' }));
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const r = await doctor();
    const s = statuses(r);
    const na = Object.keys(s).filter((k) => s[k] === 'n/a');
    expect(na.sort()).toEqual(['credentials', 'esm.settings', 'lag.stream', 'region', 'stack', 'tables']);
    expect(check(r, 'tables').evidence).toContain('no Glue catalog');
    // The test pipeline runs without a schedule: the one warning, said as such.
    expect(s.schedule).toBe('warn');
    expect(check(r, 'schedule').evidence).toContain('DISABLED');
    const others = Object.entries(s).filter(([k, v]) => v !== 'n/a' && k !== 'schedule');
    expect(others.filter(([, v]) => v !== 'pass')).toEqual([]);
    expect(check(r, 'stream.input').evidence).toContain('2 open shards');
    expect(check(r, 'esm.state').evidence).toContain('40 records read');
    expect(r.ok).toBe(true);
  });

  it('its fixes name this pipeline: --local and its --data-dir, which a pasted command needs', async () => {
    const fix = check(await doctor(), 'schedule').fix ?? '';
    expect(fix).toContain(`\`paypipe schedule --enable --local --data-dir ${p.dataDir}\``);
  });

  it('counts the last hour’s dead-lettered records and the failed batches', async () => {
    await sendRaw(p, [
      { data: 'not json', partitionKey: 'bad-1' },
      { data: '{"transaction_id":"T1"}', partitionKey: 'bad-2' },
      {
        data: '{"transaction_id":"T2","amount":-5,"currency":"USD","merchant":"m","event_timestamp":1705317000000}',
        partitionKey: 'bad-3',
      },
    ]);
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    appendFailedBatch(p.dataDir, {
      requestContext: {
        requestId: 'r',
        functionArn: 'arn',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId: 'shardId-000000000000',
        startSequenceNumber: '1',
        endSequenceNumber: '2',
        approximateArrivalOfFirstRecord: new Date().toISOString(),
        approximateArrivalOfLastRecord: new Date().toISOString(),
        batchSize: 2,
        streamArn: 'arn',
      },
    });
    const r = await doctor();
    const dl = check(r, 'dead-letters');
    expect(dl.status).toBe('warn');
    expect(dl.evidence).toMatch(/^3 records in \d+ objects? under /);
    expect(dl.fix).toBeTruthy();
    expect(check(r, 'failures')).toMatchObject({
      status: 'warn',
      evidence: 'failed-batches.ndjson: 1 failed batch waiting',
    });
    expect(r.ok).toBe(true);
  });

  it('--probe follows a canary to the raw bucket, the output stream and the analytics bucket', async () => {
    const r = await doctor({ probe: true });
    expect(check(r, 'probe').status).toBe('pass');
    const hops = r.probe?.hops ?? [];
    expect(hops.map((h) => h.name)).toEqual([
      'input stream',
      'raw bucket',
      'output stream',
      'analytics bucket',
    ]);
    for (const h of hops) expect(h.latencyMs).toBeGreaterThanOrEqual(0);
    const at = (name: string) => hops.find((h) => h.name === name)?.latencyMs as number;
    expect(at('analytics bucket')).toBeGreaterThanOrEqual(at('input stream'));
    expect(r.probe?.marker).toMatch(/^CANARY-[0-9a-f-]{36}$/);
    expect(r.probe?.currency).toBe('XPF');
  });

  it('shows lag, stale aggregates and a stuck probe when the aggregator hangs', async () => {
    const rawBefore = p.status().rawEventsDelivered;
    closeGate();
    try {
      await sendEvents(p, makeEvents(8, { startMs: Date.now() - 1000, spanMs: 1000, prefix: 'HANG' }));
      // Raw delivery does not go through the aggregator: the raw copy lands, newer than any aggregate.
      await waitFor(() => p.status().rawEventsDelivered >= rawBefore + 8, 'the raw copy of the events');
      // Judged 5 s from now: the unprocessed records are older than the 1 s lag limit.
      const r = await doctor(
        { maxLagMs: 1000, staleAfterMs: 200, probe: true, timeoutMs: 4000 },
        () => Date.now() + 5000,
      );
      const lag = check(r, 'lag.aggregator');
      expect(lag.status).toBe('fail');
      expect(lag.evidence).toMatch(/oldest unprocessed record \(shardId-\d+\): \d/);
      // Stale although the schedule is off: raw data arrived after the newest aggregate.
      const fresh = check(r, 'freshness.aggregations');
      expect(fresh.status).toBe('fail');
      expect(fresh.evidence).toMatch(/raw data .* old is newer$/);
      const probe = check(r, 'probe');
      expect(probe.status).toBe('fail');
      expect(probe.evidence).toContain('stuck before output stream');
      expect(r.probe?.hops.find((h) => h.name === 'raw bucket')?.latencyMs).toBeGreaterThan(0);
      expect(r.ok).toBe(false);
    } finally {
      openGate();
    }
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const after = await doctor({ maxLagMs: 60_000 });
    expect(check(after, 'lag.aggregator').status).toBe('pass');
  });

  it('a pipeline process that stopped updating status.json looks stuck', async () => {
    const r = await doctor({}, () => Date.now() + 60_000);
    expect(check(r, 'esm.state')).toMatchObject({ status: 'fail' });
    expect(check(r, 'esm.state').evidence).toMatch(/^status\.json not updated for 1 min/);
  });
});

describe('the built CLI against the running pipeline', () => {
  it('doctor --local --json prints one parseable report and exits 0 when nothing fails', async () => {
    const r = await runCli(cli, ['doctor', '--local', '--data-dir', p.dataDir, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.target).toBe('local');
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.id === 'stream.input')?.status).toBe('pass');
    expect(report.counts.pass).toBe(report.checks.filter((c) => c.status === 'pass').length);
  });

  it('doctor --probe exits 1 with the failing ids when the canary gets stuck', async () => {
    closeGate();
    try {
      const r = await runCli(cli, [
        'doctor',
        '--local',
        '--data-dir',
        p.dataDir,
        '--probe',
        '--timeout',
        '3s',
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /FAIL {2}Canary probe +CANARY-[0-9a-f-]+: stuck before output stream after 3 s/,
      );
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^paypipe: 1 of \d+ checks failed: probe \(/);
    } finally {
      openGate();
    }
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
  });
});
