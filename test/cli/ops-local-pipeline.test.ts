/**
 * schedule and logs against ONE real local pipeline (kinesalite + s3rver + the real handlers): the
 * local scheduler, then the built CLI. (doctor's own tests are in test/cli/doctor/.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localSchedule } from '../../src/cli/schedule/schedule.js';
import { readLocalSchedule } from '../../src/local/schedule.js';
import { startTestPipeline, type TestPipeline } from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';
import { type BuiltCli, buildCli, runCli } from '../helpers/build-cli.js';

let p: TestPipeline;
let cli: BuiltCli;
const flags = () => ({ local: true, dataDir: p.dataDir });

beforeAll(async () => {
  [p, cli] = await Promise.all([startTestPipeline({ statusIntervalMs: 100 }), buildCli()]);
});
afterAll(async () => {
  await p?.cleanup();
  cli?.cleanup();
});

describe('schedule --local', () => {
  it('shows, changes and drives the running scheduler', async () => {
    const shown = await localSchedule(flags(), {});
    expect(shown).toMatchObject({
      target: 'local',
      enabled: false,
      expression: 'rate(1 minute)',
      changed: [],
    });
    const sentBefore = p.status().producer.eventsSent;
    const v = await localSchedule(flags(), { enabled: true, expression: 'rate(30 seconds)', count: 7 });
    expect(v).toMatchObject({ enabled: true, expression: 'rate(30 seconds)', count: 7 });
    expect(v.changed).toEqual(['expression rate(1 minute) → rate(30 seconds)', 'enabled', 'count 100 → 7']);
    expect(v.note).toContain('`paypipe up` starts with the configured schedule (rate(1 minute)');
    expect(await readLocalSchedule(p.dataDir)).toEqual({
      enabled: true,
      expression: 'rate(30 seconds)',
      count: 7,
    });
    // Enabling fires the producer at once (the scheduler re-reads the file every second).
    await waitFor(
      () => p.status().producer.eventsSent >= sentBefore + 7,
      'the producer fired at once',
      15_000,
    );
    expect(p.status().producer.eventsSent).toBe(sentBefore + 7);
    const off = await localSchedule(flags(), { enabled: false });
    expect(off.changed).toEqual(['disabled']);
    await expect(localSchedule(flags(), { expression: 'cron(0 8 * * ? *)' })).rejects.toMatchObject({
      code: 'USAGE',
    });
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
  });
});

describe('the built CLI against the running pipeline', () => {
  it('logs --local --json passes the raw events, including the producer run and the rejected records', async () => {
    const r = await runCli(cli, ['logs', '--local', '--data-dir', p.dataDir, '--json', '--since', '1h']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { function: string; message: string; timestamp: number });
    expect(new Set(events.map((e) => e.function))).toEqual(new Set(['producer', 'aggregator']));
    const ts = events.map((e) => e.timestamp);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    const produced = events.find((e) => e.function === 'producer' && e.message.includes('"requested":7'));
    expect(produced).toBeDefined();
    const human = await runCli(cli, [
      'logs',
      'aggregator',
      '--local',
      '--data-dir',
      p.dataDir,
      '--since',
      '1h',
      '--level',
      'warn',
      '--quiet',
    ]);
    expect(human.code).toBe(0);
    // Whatever the handler logs at warn and above, nothing below warn and no platform lines.
    for (const l of human.stdout.trim().split('\n').filter(Boolean))
      expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} aggregator (WARN |ERROR)/);
  });

  it('schedule --local --json and a bad local expression', async () => {
    const r = await runCli(cli, ['schedule', '--local', '--data-dir', p.dataDir, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      target: 'local',
      enabled: false,
      expression: 'rate(30 seconds)',
      count: 7,
    });
    const bad = await runCli(cli, ['schedule', '--local', '--data-dir', p.dataDir, '--cron', '0 8 * * ? *']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('cron() expressions are not run by the local pipeline');
  });
});
