/**
 * The schedule, the function logs, status.json, endpoints.json and record-age expiry.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireDataDirLock,
  isPidAlive,
  readLocalEndpoints,
  writeLocalEndpoints,
} from '../../src/local/endpoints.js';
import { listFailedBatches } from '../../src/local/failed-batches.js';
import type { LogEvent } from '../../src/local/function-runtime.js';
import { parseScheduleExpression, readLocalSchedule, writeLocalSchedule } from '../../src/local/schedule.js';
import { readLocalStatus } from '../../src/local/status.js';
import {
  makeEvents,
  sendEvents,
  startTestPipeline,
  type TestPipeline,
  tempDataDir,
} from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

describe('schedule expressions', () => {
  it('parses EventBridge rate() and rejects the rest with one line', () => {
    expect(parseScheduleExpression('rate(1 minute)')).toBe(60_000);
    expect(parseScheduleExpression('rate(5 minutes)')).toBe(300_000);
    expect(parseScheduleExpression(' rate(30 seconds) ')).toBe(30_000);
    expect(parseScheduleExpression('rate(2 hours)')).toBe(7_200_000);
    expect(parseScheduleExpression('rate(1 day)')).toBe(86_400_000);
    expect(() => parseScheduleExpression('rate(1 minutes)')).toThrow(/rate\(1 minute\)/);
    expect(() => parseScheduleExpression('rate(5 minute)')).toThrow(/rate\(5 minutes\)/);
    expect(() => parseScheduleExpression('rate(0 minutes)')).toThrow(/at least 1/);
    expect(() => parseScheduleExpression('cron(0 12 * * ? *)')).toThrow(/cron\(\) expressions are not run/);
    expect(() => parseScheduleExpression('every minute')).toThrow(/not a rate expression/);
    try {
      parseScheduleExpression('rate(x)');
    } catch (e) {
      expect((e as { code: string }).code).toBe('USAGE');
      expect((e as Error).message).not.toContain('\n');
    }
  });
});

describe('data dir files', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('readLocalSchedule falls back to the config defaults; writeLocalSchedule validates', async () => {
    const d = tempDataDir('sched');
    dirs.push(d);
    expect(await readLocalSchedule(d)).toEqual({ enabled: true, expression: 'rate(1 minute)', count: 100 });
    await writeLocalSchedule(d, { enabled: false, expression: 'rate(10 seconds)', count: 7 });
    expect(await readLocalSchedule(d)).toEqual({ enabled: false, expression: 'rate(10 seconds)', count: 7 });
    await expect(
      writeLocalSchedule(d, { enabled: true, expression: 'cron(* * * * ? *)', count: 1 }),
    ).rejects.toMatchObject({
      code: 'USAGE',
    });
    writeFileSync(join(d, 'schedule.json'), '{ nope');
    await expect(readLocalSchedule(d)).rejects.toMatchObject({ code: 'DATA' });
  });

  it('endpoints.json counts only while its pid lives; a stale lock or file is taken over', async () => {
    const d = tempDataDir('ep');
    dirs.push(d);
    await expect(readLocalEndpoints(d)).rejects.toMatchObject({
      code: 'LOCAL_NOT_RUNNING',
      hint: 'start it with `paypipe up` in another terminal',
    });
    // A pid that cannot be alive (beyond pid_max).
    const dead = 2 ** 22 + 12345;
    expect(isPidAlive(dead)).toBe(false);
    const ep = {
      pid: dead,
      kinesisEndpoint: 'http://127.0.0.1:1',
      s3Endpoint: 'http://127.0.0.1:2',
      region: 'ap-southeast-2',
      startedAt: new Date().toISOString(),
      configOverrides: {},
    };
    writeLocalEndpoints(d, ep);
    await expect(readLocalEndpoints(d)).rejects.toThrow(`process ${dead} has exited`);
    writeFileSync(join(d, 'up.lock'), String(dead));
    const release = acquireDataDirLock(d);
    expect(readFileSync(join(d, 'up.lock'), 'utf8')).toBe(String(process.pid));
    writeLocalEndpoints(d, { ...ep, pid: process.pid });
    expect((await readLocalEndpoints(d)).s3Endpoint).toBe('http://127.0.0.1:2');
    release();
    // A live holder (this test's parent process) is refused.
    writeLocalEndpoints(d, { ...ep, pid: process.ppid });
    expect(() => acquireDataDirLock(d)).toThrow(/already running/);
  });
});

describe('running pipeline: schedule, logs, status, record age', () => {
  let p: TestPipeline | undefined;
  afterEach(async () => {
    await p?.cleanup();
    p = undefined;
  });

  it('invokes the producer on its rate, follows schedule.json changes, and logs like CloudWatch', async () => {
    p = await startTestPipeline({ schedule: { enabled: true, expression: 'rate(1 second)', count: 20 } });
    const pipeline = p;
    await waitFor(() => pipeline.status().producer.invocations >= 2, 'two scheduled invocations', 5000);
    await writeLocalSchedule(pipeline.dataDir, { enabled: false, expression: 'rate(1 second)', count: 20 });
    // The scheduler re-reads the file before it fires, so once it reports disabled the count is final;
    // that nothing fires later, however long, is proven on an injected clock in schedule.test.ts.
    await waitFor(() => !pipeline.status().schedule.enabled, 'the scheduler to see the disable', 5000);
    const afterOff = pipeline.status().producer.invocations;
    await pipeline.waitForIdle({ timeoutMs: 20_000 });
    const s = pipeline.status();
    expect(s.producer.eventsSent).toBe(afterOff * 20);
    expect(s.eventsIn).toBe(afterOff * 20);

    await pipeline.stop({ flush: true });
    for (const fn of ['producer', 'aggregator']) {
      const lines = readFileSync(join(pipeline.dataDir, 'logs', `${fn}.ndjson`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LogEvent);
      expect(Object.keys(lines[0] ?? {})).toEqual(['timestamp', 'logStreamName', 'message']);
      expect(lines[0]?.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
      expect(lines[0]?.message).toMatch(/^START RequestId: [0-9a-f-]{36} Version: \$LATEST$/);
      const report = lines.find((l) => l.message.startsWith('REPORT'));
      expect(report?.message).toMatch(
        /^REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: \d+ MB\tMax Memory Used: \d+ MB$/,
      );
      expect(lines.some((l) => l.message.startsWith('END RequestId: '))).toBe(true);
      // The function's own lines are kept exactly as printed (JSON from its logger).
      const own = lines.filter((l) => !/^(START|END|REPORT) /.test(l.message));
      expect(own.length).toBeGreaterThan(0);
      for (const l of own) expect(() => JSON.parse(l.message)).not.toThrow();
    }
    const file = await readLocalStatus(pipeline.dataDir);
    expect(file?.running).toBe(false);
    expect(file?.eventsIn).toBe(afterOff * 20);
    expect(file?.lag).toHaveLength(2);
  });

  it('records older than maxRecordAge skip the function and go to the failure destination', async () => {
    // The pipeline's clock runs two hours ahead: every record arrives "expired" (max age 1 h; the
    // default has no age limit).
    p = await startTestPipeline({
      now: () => Date.now() + 2 * 3_600_000,
      configOverrides: { maxRecordAgeSeconds: 3600 },
    });
    await sendEvents(p, makeEvents(40, { startMs: Date.now() - 60_000, spanMs: 60_000 }));
    await p.waitForIdle({ timeoutMs: 20_000 });
    const failed = await listFailedBatches(p.dataDir);
    expect(failed.every((f) => f.requestContext.condition === 'RecordAgeExceeded')).toBe(true);
    expect(failed.reduce((a, f) => a + f.KinesisBatchInfo.batchSize, 0)).toBe(40);
    expect(p.status().aggregator.invocations).toBe(0);
    expect(p.status().aggregator.expiredRecords).toBe(40);
  });
});
