/**
 * Local parity of the metrics and alarms, against a real local pipeline (kinesalite + s3rver + the
 * real handlers writing EMF lines to their log files): what doctor --local reads is what the
 * functions emitted, and the stack's own alarm definitions judge it.
 * - a burst over the input's configured write limit (1 shard: 1,000 records/s) shows in doctor;
 * - rejects above the configured share turn the local rejects alarm red within one evaluation
 *   period (the environment here evaluates one 1-minute period, as configured).
 * Before this change the functions wrote no metrics and doctor had no alarm or throughput check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { implicitWhen } from '../../src/pipeline/time-range.js';
import { buildReport, type DoctorReport } from '../../src/cli/doctor/checks.js';
import { gatherLocal } from '../../src/cli/doctor/gather-local.js';
import { localPipelineMetrics } from '../../src/cli/pipeline-metrics.js';
import { runStatus, sparkline } from '../../src/cli/status/status.js';
import { parseEmf } from '../../src/pipeline/metrics.js';
import { captureIo } from '../helpers/ops.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/local-pipeline.js';

let p: TestPipeline;

beforeAll(async () => {
  p = await startTestPipeline({
    statusIntervalMs: 100,
    configOverrides: { shardCount: 1, alarmEvaluationPeriods: 1, alarmRejectPercent: 5 },
  });
});
afterAll(async () => {
  await p?.cleanup();
});

const check = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no check ${id}`);
  return c;
};
const doctor = async () =>
  buildReport(
    await gatherLocal({ local: true, dataDir: p.dataDir }, { probe: false, timeoutMs: 20_000, pollMs: 100 }),
  );

describe('local metrics', () => {
  it('the aggregator writes EMF lines with the counts of what it read', async () => {
    await sendEvents(p, makeEvents(120, { startMs: Date.now() - 30_000, spanMs: 30_000, prefix: 'M' }));
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const lines = readFileSync(join(p.dataDir, 'logs', 'aggregator.ndjson'), 'utf8').split('\n');
    const data = lines.flatMap((l) => {
      try {
        return parseEmf((JSON.parse(l) as { message: string }).message);
      } catch {
        return [];
      }
    });
    const sum = (name: string) => data.filter((d) => d.name === name).reduce((a, d) => a + d.value, 0);
    expect(sum('RecordsIn')).toBe(120);
    expect(sum('RecordsValid')).toBe(120);
    expect(sum('RecordsRejected')).toBe(0);
    expect(sum('BytesIn')).toBeGreaterThan(120 * 60);
    expect(new Set(data.map((d) => d.environment))).toEqual(new Set([p.config.stackName]));
    const r = await doctor();
    expect(check(r, 'alarms')).toMatchObject({ status: 'pass' });
    expect(check(r, 'alarms').evidence).toMatch(/^\d+ alarms OK/);
    expect(check(r, 'rejects')).toMatchObject({ status: 'pass' });
  });

  it('rejects above the configured share turn the local rejects alarm red within one period', async () => {
    const bad = Array.from({ length: 60 }, (_, i) => ({ data: `not json ${i}`, partitionKey: `bad-${i}` }));
    await sendRaw(p, bad);
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const r = await doctor();
    const alarms = check(r, 'alarms');
    expect(alarms.status).toBe('fail');
    expect(alarms.evidence).toContain(`${p.config.stackName}-rejects`);
    expect(alarms.fix).toContain(`\`paypipe dead-letters --local --data-dir ${p.dataDir}\``);
    expect(check(r, 'rejects').evidence).toContain('not_json 60');
    expect(r.ok).toBe(false);
  });

  it('a burst over one shard’s write limit shows in doctor --local and in the figures', async () => {
    const before = Date.now();
    // 25,000 records within a few seconds: at least 10,000 of them in one 10 s period (> 1,000/s).
    await sendEvents(p, makeEvents(25_000, { startMs: Date.now() - 30_000, spanMs: 30_000, prefix: 'B' }));
    await p.waitForIdle({ flush: true, timeoutMs: 60_000 });
    const m = await localPipelineMetrics(p.dataDir, p.config, { startMs: before - 1, endMs: Date.now() + 1 });
    expect(m.points.reduce((a, x) => a + x.recordsIn, 0)).toBe(25_000);
    const t = check(await doctor(), 'throughput');
    expect(t.status).toBe('fail');
    expect(t.evidence).toMatch(/^input at \d{3,}% of 1 shard' write limit/);
    expect(t.fix).toContain('set shardCount to 2 in paypipe.config.json');
    // status shows the same burst (its peak over the shard's limit) and the alarms' states.
    const c = captureIo();
    await runStatus(
      { local: true, dataDir: p.dataDir, once: true, since: implicitWhen('--since', '10m') },
      c.io,
    );
    expect(c.out()).toMatch(/records in\/s +[▁▂▃▄▅▆▇█ ]*█/);
    expect(c.out()).toMatch(/peak \d+(\.\d)? \((\d{3,})% of 1 shards\)/);
    expect(c.out()).toContain(`● ${p.config.stackName}-rejects`);
    const j = captureIo({ json: true });
    await runStatus({ local: true, dataDir: p.dataDir, since: implicitWhen('--since', '10m') }, j.io);
    const doc = JSON.parse(j.out()) as {
      shards: number;
      metrics: { alarms: { name: string; state: string }[] };
    };
    expect(doc.shards).toBe(1);
    // 25,000 valid records dilute the 60 rejects below 5% again: the alarm is back to OK.
    expect(doc.metrics.alarms).toContainEqual(
      expect.objectContaining({ name: `${p.config.stackName}-rejects`, state: 'OK' }),
    );
  }, 120_000);
});

describe('sparkline', () => {
  it('scales to the largest value, gaps are blank', () => {
    expect(sparkline([0, 1, 2, 4, undefined, 8])).toBe('▁▂▃▅ █');
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([])).toBe('');
  });
});
