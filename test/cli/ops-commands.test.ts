/**
 * logs / doctor / schedule through the built bin, without AWS credentials and without a running
 * local pipeline: bad flags exit 2 with one line, missing prerequisites exit 1 with one line, and
 * --json stays parseable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/cli/doctor/checks.js';
import { type BuiltCli, buildCli, runCli } from '../helpers/build-cli.js';

let cli: BuiltCli;
let empty: string;
beforeAll(async () => {
  cli = await buildCli();
  empty = mkdtempSync(join(tmpdir(), 'paypipe-empty-'));
});
afterAll(() => {
  cli?.cleanup();
  rmSync(empty, { recursive: true, force: true });
});

describe('bad invocations exit 2 with one line on stderr and nothing on stdout', () => {
  const cases: Array<[string[], string]> = [
    [['logs', '--level', 'loud'], '--level must be one of debug, info, warn, error, got "loud"'],
    [['logs', 'consumer'], 'function must be one of producer, aggregator, all, got "consumer"'],
    [['logs', '--since', 'yesterday'], '--since must be a duration like 30m, 2h or 1d, a UTC time like'],
    [['logs', '--local', '--filter', '{ $.level = ', '--data-dir', '/nowhere'], '--filter: filter pattern'],
    [['doctor', '--timeout', '5x'], '--timeout must be a duration like 30s, 10m, 2h or 1d, got "5x"'],
    [['doctor', '--max-lag', '0s'], '--max-lag must be from 1s to 7d, got "0s"'],
    [
      ['schedule', '--rate', '5 minutes', '--cron', '0 8 * * ? *'],
      "cannot be used with option '--cron <expr>'",
    ],
    [['schedule', '--enable', '--disable'], "cannot be used with option '--disable'"],
    [['schedule', '--count', '0'], '--count must be a whole number from 1 to 100,000, got "0"'],
    [['schedule', '--rate', '30 seconds'], 'EventBridge schedules run at most once a minute'],
    [['schedule', '--cron', '*/5 * * * *'], '--cron needs 6 fields'],
  ];
  it.each(cases)('paypipe %j', async (args, message) => {
    const r = await runCli(cli, args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^paypipe: /);
    expect(lines[0]).toContain(message);
  });
});

describe('prerequisites', () => {
  it('doctor --local with nothing running: the report on stdout, exit 1, a JSON error on stderr', async () => {
    const r = await runCli(cli, ['doctor', '--local', '--data-dir', empty, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['local.running', 'fail'],
      ['credentials', 'n/a'],
      ['region', 'n/a'],
      ['stack', 'n/a'],
      ['tables', 'n/a'],
    ]);
    expect(report.checks[0]?.fix).toContain('paypipe up');
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1) ?? '') as {
      error: { code: string; failed: string[] };
    };
    expect(err.error).toMatchObject({ code: 'CHECK_FAILED', failed: ['local.running'] });
  });

  it('doctor on AWS without credentials reports the credentials check and stops', async () => {
    const r = await runCli(cli, ['doctor', '--json', '--region', 'eu-west-1']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'fail'],
      ['region', 'pass'],
    ]);
    expect(report.checks[1]?.evidence).toBe('eu-west-1 (--region)');
  });

  it('logs and schedule on AWS without credentials: one line, exit 1', async () => {
    for (const args of [['logs'], ['schedule']]) {
      const r = await runCli(cli, args);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^paypipe: .*credentials/i);
    }
  });

  it('logs --local and schedule --local need the data dir of a pipeline', async () => {
    const logs = await runCli(cli, ['logs', '--local', '--data-dir', empty]);
    expect(logs.code).toBe(1);
    expect(logs.stderr).toBe(
      // The suggested command keeps the data dir it was given.
      `paypipe: no local pipeline logs in ${join(empty, 'logs')} (start the local pipeline with \`paypipe up --data-dir ${empty}\`, or pass the --data-dir it uses)\n`,
    );
    const change = await runCli(cli, ['schedule', '--local', '--data-dir', empty, '--disable']);
    expect(change.code).toBe(1);
    expect(change.stderr).toContain(`no local pipeline is running in ${empty}`);
    // Showing works without a running pipeline: the configured schedule, and a note saying so.
    const show = await runCli(cli, ['schedule', '--local', '--data-dir', empty, '--json']);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      enabled: true,
      expression: 'rate(1 minute)',
      count: 100,
    });
  });

  it('has help with examples for each command', async () => {
    for (const c of ['logs', 'doctor', 'schedule']) {
      const r = await runCli(cli, [c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: paypipe ${c}`);
      expect(r.stdout).toContain('Examples:');
    }
  });
});
