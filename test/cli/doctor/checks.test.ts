import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/pipeline/config.js';
import {
  buildReport,
  type CheckResult,
  type CheckStatus,
  checkCredentials,
  checkDeadLetters,
  checkDeliveryStream,
  checkFailureQueue,
  checkFreshness,
  checkFunctionErrors,
  checkLag,
  checkProbe,
  checkSchedule,
  checkStack,
  checkStream,
  type EventSourceMappingFacts,
  esmBatchingWindow,
  esmBatchSize,
  esmBisect,
  esmLastResult,
  esmMaxRecordAge,
  esmOnFailure,
  esmParallelization,
  esmPartialBatch,
  esmRetries,
  esmStartingPosition,
  esmState,
  formatAge,
  freshnessLimitMs,
  lagThresholds,
  lintEventSourceMapping,
  notApplicable,
  renderReport,
  scheduleIntervalMs,
} from '../../../src/cli/doctor/checks.js';
import type { Paint } from '../../../src/pipeline/log-format.js';

const config = resolveConfig({});
const agg = config.aggregator;
/** The settings before no-loss defaults: 3 retries, 1 h maximum record age. */
const bounded = resolveConfig({ retryAttempts: 3, maxRecordAgeSeconds: 3600 }).aggregator;
const plain: Paint = {
  bold: (s) => s,
  dim: (s) => s,
  red: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  cyan: (s) => s,
};

/** A mapping exactly as the stack deploys it from the default configuration. */
const good: EventSourceMappingFacts = {
  UUID: 'u-1',
  State: 'Enabled',
  LastProcessingResult: 'OK',
  BatchSize: agg.batchSize,
  MaximumBatchingWindowInSeconds: agg.maxBatchingWindowSeconds,
  BisectBatchOnFunctionError: true,
  MaximumRetryAttempts: agg.retryAttempts,
  MaximumRecordAgeInSeconds: agg.maxRecordAgeSeconds,
  DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:ap-southeast-2:123:q' } },
  FunctionResponseTypes: ['ReportBatchItemFailures'],
  StartingPosition: agg.startingPosition,
  ParallelizationFactor: 1,
};

/** Every non-pass result names a fix; pass and n/a never carry one. */
function wellFormed(r: CheckResult): void {
  if (r.status === 'warn' || r.status === 'fail') expect(r.fix, r.id).toBeTruthy();
  else expect(r.fix, r.id).toBeUndefined();
  expect(r.evidence).not.toContain('\n');
}

type Row = [string, () => CheckResult, CheckStatus, string];

const rows: Row[] = [
  [
    'credentials ok',
    () => checkCredentials({ ok: true, account: '123', arn: 'arn:aws:iam::123:user/a' }),
    'pass',
    'account 123',
  ],
  [
    'credentials missing',
    () => checkCredentials({ ok: false, error: 'Could not load credentials' }),
    'fail',
    'Could not load',
  ],
  ['stack complete', () => checkStack('s', 'UPDATE_COMPLETE'), 'pass', 'UPDATE_COMPLETE'],
  ['stack updating', () => checkStack('s', 'UPDATE_IN_PROGRESS'), 'warn', 'UPDATE_IN_PROGRESS'],
  ['stack rolled back', () => checkStack('s', 'UPDATE_ROLLBACK_COMPLETE', 'x failed'), 'fail', 'x failed'],
  ['stack rolling back', () => checkStack('s', 'ROLLBACK_IN_PROGRESS'), 'fail', 'ROLLBACK_IN_PROGRESS'],
  ['stack missing', () => checkStack('s', undefined), 'fail', 'not found'],
  [
    'stream active',
    () =>
      checkStream(
        'input',
        { name: 'in', status: 'ACTIVE', openShards: 2, mode: 'PROVISIONED' },
        config.streams.input,
      ),
    'pass',
    '2 open shards',
  ],
  [
    'stream resharded',
    () =>
      checkStream(
        'input',
        { name: 'in', status: 'ACTIVE', openShards: 4, mode: 'PROVISIONED' },
        config.streams.input,
      ),
    'warn',
    'configured 2 shards',
  ],
  [
    'stream mode drift',
    () =>
      checkStream(
        'input',
        { name: 'in', status: 'ACTIVE', openShards: 4, mode: 'ON_DEMAND' },
        config.streams.input,
      ),
    'warn',
    'configured PROVISIONED',
  ],
  [
    'stream updating',
    () => checkStream('input', { name: 'in', status: 'UPDATING', openShards: 2 }, config.streams.input),
    'warn',
    'UPDATING',
  ],
  [
    'stream deleting',
    () => checkStream('output', { name: 'out', status: 'DELETING' }, config.streams.output),
    'fail',
    'DELETING',
  ],
  [
    'stream missing',
    () => checkStream('output', { name: 'out' }, config.streams.output),
    'fail',
    'does not exist',
  ],
  ['firehose active', () => checkDeliveryStream('raw', { name: 'f', status: 'ACTIVE' }), 'pass', 'ACTIVE'],
  [
    'firehose creating',
    () => checkDeliveryStream('raw', { name: 'f', status: 'CREATING' }),
    'warn',
    'CREATING',
  ],
  [
    'firehose failing',
    () => checkDeliveryStream('raw', { name: 'f', status: 'ACTIVE', failure: 'S3 AccessDenied' }),
    'fail',
    'AccessDenied',
  ],
  ['firehose missing', () => checkDeliveryStream('analytics', { name: 'f' }), 'fail', 'does not exist'],
  ['esm enabled', () => esmState(good), 'pass', 'Enabled'],
  ['esm enabling', () => esmState({ ...good, State: 'Enabling' }), 'warn', 'Enabling'],
  [
    'esm disabled',
    () => esmState({ ...good, State: 'Disabled', StateTransitionReason: 'USER_INITIATED' }),
    'fail',
    'USER_INITIATED',
  ],
  ['last result ok', () => esmLastResult(good), 'pass', 'OK'],
  [
    'last result none',
    () => esmLastResult({ ...good, LastProcessingResult: 'No records processed' }),
    'warn',
    'No records',
  ],
  [
    'last result problem',
    () => esmLastResult({ ...good, LastProcessingResult: 'PROBLEM: Function call failed' }),
    'fail',
    'PROBLEM',
  ],
  ['bisect on', () => esmBisect(good, agg), 'pass', 'on'],
  [
    'bisect off',
    () => esmBisect({ ...good, BisectBatchOnFunctionError: false }, agg),
    'fail',
    'configured on',
  ],
  // The default: retried until the records leave the stream, with no age limit.
  ['retries as configured (-1)', () => esmRetries(good, agg), 'pass', 'until the records leave the stream'],
  [
    'retries bounded as configured',
    () => esmRetries({ ...good, MaximumRetryAttempts: 3 }, bounded),
    'pass',
    '3',
  ],
  ['retries drift', () => esmRetries({ ...good, MaximumRetryAttempts: 7 }, bounded), 'warn', 'configured 3'],
  [
    'retries drift from -1',
    () => esmRetries({ ...good, MaximumRetryAttempts: 7 }, agg),
    'warn',
    'configured -1',
  ],
  [
    'retries infinite, configured bounded',
    () => esmRetries({ ...good, MaximumRetryAttempts: -1 }, bounded),
    'fail',
    'infinite',
  ],
  ['record age as configured (-1)', () => esmMaxRecordAge(good, agg), 'pass', 'no limit'],
  [
    'record age bounded as configured',
    () => esmMaxRecordAge({ ...good, MaximumRecordAgeInSeconds: 3600 }, bounded),
    'pass',
    '3600 s',
  ],
  [
    'record age drift',
    () => esmMaxRecordAge({ ...good, MaximumRecordAgeInSeconds: 600 }, bounded),
    'warn',
    'configured 3600',
  ],
  [
    'record age infinite, configured bounded',
    () => esmMaxRecordAge({ ...good, MaximumRecordAgeInSeconds: -1 }, bounded),
    'fail',
    'infinite',
  ],
  ['on-failure set', () => esmOnFailure(good), 'pass', 'arn:aws:sqs'],
  ['on-failure missing', () => esmOnFailure({ ...good, DestinationConfig: {} }), 'fail', 'dropped'],
  ['partial batch on', () => esmPartialBatch(good, agg), 'pass', 'ReportBatchItemFailures'],
  ['partial batch off', () => esmPartialBatch({ ...good, FunctionResponseTypes: [] }, agg), 'fail', 'lacks'],
  ['batch size as configured', () => esmBatchSize(good, agg), 'pass', '500'],
  ['batch size drift', () => esmBatchSize({ ...good, BatchSize: 100 }, agg), 'warn', 'configured 500'],
  [
    'batching window as configured',
    () => esmBatchingWindow(good, agg),
    'pass',
    `${agg.maxBatchingWindowSeconds} s`,
  ],
  [
    'batching window drift',
    () => esmBatchingWindow({ ...good, MaximumBatchingWindowInSeconds: 30 }, agg),
    'warn',
    `configured ${agg.maxBatchingWindowSeconds} s`,
  ],
  ['starting position', () => esmStartingPosition(good, agg), 'pass', 'TRIM_HORIZON'],
  [
    'starting position drift',
    () => esmStartingPosition({ ...good, StartingPosition: 'LATEST' }, agg),
    'warn',
    'LATEST',
  ],
  ['parallelization', () => esmParallelization(good, agg), 'pass', '1'],
  [
    'parallelization drift',
    () => esmParallelization({ ...good, ParallelizationFactor: 4 }, agg),
    'warn',
    'configured 1',
  ],
  ['failure queue empty', () => checkFailureQueue(0, 'q'), 'pass', 'empty'],
  ['failure queue has batches', () => checkFailureQueue(3, 'q'), 'warn', '3 failed batches'],
  ['failure queue unreadable', () => checkFailureQueue(undefined, 'q'), 'fail', 'could not be read'],
  ['no dead letters', () => checkDeadLetters(0, undefined, 'dead-letters/'), 'pass', 'none'],
  ['dead letters', () => checkDeadLetters(2, 7, 'dead-letters/'), 'warn', '7 records in 2 objects'],
  [
    'lag fine',
    () => checkLag('lag', 'Lag', 1500, { warnMs: 60_000, failMs: 300_000 }, 'IteratorAge'),
    'pass',
    '2 s',
  ],
  [
    'lag over a window',
    () => checkLag('lag', 'Lag', 90_000, { warnMs: 60_000, failMs: 300_000 }, 'IteratorAge'),
    'warn',
    '1 min 30 s',
  ],
  [
    'lag falling behind',
    () => checkLag('lag', 'Lag', 900_000, { warnMs: 60_000, failMs: 300_000 }, 'IteratorAge'),
    'fail',
    '15 min',
  ],
  [
    'lag no data',
    () => checkLag('lag', 'Lag', undefined, { warnMs: 60_000, failMs: 300_000 }, 'IteratorAge'),
    'warn',
    'no datapoints for IteratorAge',
  ],
  [
    'no errors',
    () =>
      checkFunctionErrors(
        'aggregator',
        'fn',
        { invocations: 10, errors: 0, throttles: 0 },
        'the last 15 minutes',
      ),
    'pass',
    '10 invocations, 0 errors, 0 throttles',
  ],
  [
    'some errors',
    () =>
      checkFunctionErrors(
        'aggregator',
        'fn',
        { invocations: 10, errors: 2, throttles: 0 },
        'the last 15 minutes',
      ),
    'warn',
    '2 errors',
  ],
  [
    'all errors',
    () => checkFunctionErrors('producer', 'fn', { invocations: 3, errors: 3 }, 'the last 15 minutes'),
    'fail',
    '3 errors',
  ],
  [
    'throttles',
    () =>
      checkFunctionErrors(
        'producer',
        'fn',
        { invocations: 3, errors: 0, throttles: 5 },
        'the last 15 minutes',
      ),
    'warn',
    '5 throttles',
  ],
  ['fresh', () => checkFreshness('raw', 'data/', 30_000, 180_000, true), 'pass', '30 s old'],
  [
    'stale',
    () => checkFreshness('aggregations', 'aggregations/', 600_000, 180_000, true),
    'fail',
    '10 min old',
  ],
  [
    'stale while disabled',
    () => checkFreshness('raw', 'data/', 600_000, 180_000, false),
    'warn',
    'limit 3 min',
  ],
  ['no objects', () => checkFreshness('raw', 'data/', undefined, 180_000, true), 'fail', 'no object'],
  [
    'no objects while disabled',
    () => checkFreshness('raw', 'data/', undefined, 180_000, false),
    'warn',
    'no object',
  ],
  [
    'aggregates quiet with raw',
    () => checkFreshness('aggregations', 'a/', 600_000, 180_000, false, 550_000),
    'warn',
    '10 min old',
  ],
  [
    'aggregates behind raw',
    () => checkFreshness('aggregations', 'a/', 600_000, 180_000, false, 20_000),
    'fail',
    'raw data 20 s old is newer',
  ],
  [
    'no aggregates but raw',
    () => checkFreshness('aggregations', 'a/', undefined, 180_000, false, 20_000),
    'fail',
    'no object',
  ],
  [
    'fresh aggregates',
    () => checkFreshness('aggregations', 'a/', 50_000, 180_000, true, 20_000),
    'pass',
    '50 s old',
  ],
  [
    'schedule enabled',
    () => checkSchedule({ name: 'r', enabled: true, expression: 'rate(1 minute)', count: 100 }, config),
    'pass',
    '100 events per run',
  ],
  [
    'schedule disabled',
    () => checkSchedule({ name: 'r', enabled: false, expression: 'rate(1 minute)' }, config),
    'warn',
    'DISABLED',
  ],
  ['schedule missing', () => checkSchedule({ name: 'r' }, config), 'fail', 'not found'],
  [
    'probe through',
    () =>
      checkProbe(
        'CANARY-1',
        [
          { name: 'raw bucket', latencyMs: 1200 },
          { name: 'analytics bucket', latencyMs: 3400 },
        ],
        60_000,
      ),
    'pass',
    'raw bucket 1 s, analytics bucket 3 s',
  ],
  [
    'probe stuck',
    () =>
      checkProbe('CANARY-1', [{ name: 'raw bucket', latencyMs: 1200 }, { name: 'analytics bucket' }], 60_000),
    'fail',
    'stuck before analytics bucket after 1 min',
  ],
  ['n/a', () => notApplicable('credentials', 'AWS credentials', 'local pipeline: no IAM'), 'n/a', 'no IAM'],
];

describe('checks', () => {
  it.each(rows)('%s', (_name, run, status, evidence) => {
    const r = run();
    expect(r.status).toBe(status);
    expect(r.evidence).toContain(evidence);
    wellFormed(r);
  });
});

describe('lintEventSourceMapping', () => {
  it('passes the mapping the stack deploys from the configuration', () => {
    const checks = lintEventSourceMapping([good], agg, 'fn');
    expect(checks.map((c) => c.status)).toEqual(Array(11).fill('pass'));
    expect(new Set(checks.map((c) => c.id)).size).toBe(11);
  });

  it('follows the configuration: a mapping that matches a changed config passes, the old one drifts', () => {
    const changed = resolveConfig({ batchSize: 100, retryAttempts: 5 }).aggregator;
    const byId = (cs: CheckResult[]) => Object.fromEntries(cs.map((c) => [c.id, c.status]));
    expect(byId(lintEventSourceMapping([good], changed, 'fn'))).toMatchObject({
      'esm.batch-size': 'warn',
      // Deployed: retried until the records expire; configured: 5 retries.
      'esm.retries': 'fail',
    });
    const redeployed = { ...good, BatchSize: 100, MaximumRetryAttempts: 5 };
    expect(lintEventSourceMapping([redeployed], changed, 'fn').every((c) => c.status === 'pass')).toBe(true);
  });

  it('fails when there is no mapping, and warns when there are two', () => {
    const none = lintEventSourceMapping([], agg, 'paypipe-dev-aggregator');
    expect(none).toHaveLength(1);
    expect(none[0]).toMatchObject({ status: 'fail', id: 'esm.state' });
    expect(none[0]?.evidence).toContain('paypipe-dev-aggregator');
    const two = lintEventSourceMapping([good, { ...good, UUID: 'u-2' }], agg, 'fn');
    expect(two.at(-1)).toMatchObject({ id: 'esm.count', status: 'warn' });
  });
});

describe('thresholds', () => {
  it('derives lag thresholds from the window', () => {
    expect(lagThresholds(config)).toEqual({ warnMs: 60_000, failMs: 300_000 });
    expect(lagThresholds(resolveConfig({ windowSeconds: 120 }))).toEqual({
      warnMs: 120_000,
      failMs: 600_000,
    });
    expect(lagThresholds(config, 30_000)).toEqual({ warnMs: 30_000, failMs: 30_000 });
  });

  it('reads schedule intervals', () => {
    expect(scheduleIntervalMs('rate(1 minute)')).toBe(60_000);
    expect(scheduleIntervalMs('rate(5 minutes)')).toBe(300_000);
    expect(scheduleIntervalMs('rate(30 seconds)')).toBe(30_000);
    expect(scheduleIntervalMs('rate(2 hours)')).toBe(7_200_000);
    expect(scheduleIntervalMs('cron(0/15 * * * ? *)')).toBe(900_000);
    expect(scheduleIntervalMs('cron(* * * * ? *)')).toBe(60_000);
    expect(scheduleIntervalMs('cron(0 8 * * ? *)')).toBe(86_400_000);
    expect(scheduleIntervalMs('cron(0 */2 * * ? *)')).toBe(7_200_000);
    expect(scheduleIntervalMs('every minute')).toBeUndefined();
  });

  it('derives the freshness limit from schedule, buffer and batching window', () => {
    // 60 s schedule + 60 s Firehose buffer + the configured batching window + 60 s slack.
    const windowMs = config.aggregator.maxBatchingWindowSeconds * 1000;
    expect(freshnessLimitMs(config)).toBe(180_000 + windowMs);
    expect(freshnessLimitMs(config, 'rate(10 minutes)')).toBe(600_000 + 120_000 + windowMs);
  });

  it('formats ages', () => {
    expect(formatAge(950)).toBe('950 ms');
    expect(formatAge(42_000)).toBe('42 s');
    expect(formatAge(185_000)).toBe('3 min 5 s');
    expect(formatAge(7_800_000)).toBe('2 h 10 min');
  });
});

describe('report', () => {
  it('counts statuses and is not ok when anything fails', () => {
    const r = buildReport('aws', 'stack s', [
      checkStack('s', 'CREATE_COMPLETE'),
      esmRetries({ ...good, MaximumRetryAttempts: -1 }, bounded),
      esmBatchSize({ ...good, BatchSize: 1 }, agg),
      notApplicable('x', 'X', 'no meaning here'),
    ]);
    expect(r.counts).toEqual({ pass: 1, warn: 1, fail: 1, 'n/a': 1 });
    expect(r.ok).toBe(false);
    expect(buildReport('local', 'here', [checkStack('s', 'CREATE_COMPLETE')]).ok).toBe(true);
    const text = renderReport(r, plain);
    expect(text.split('\n')[0]).toBe('paypipe doctor: stack s');
    expect(text).toContain('FAIL  Retry attempts');
    expect(text).toContain('→ a failing batch blocks its shard');
    expect(text).toContain('n/a   X');
    expect(text.split('\n').at(-1)).toBe('unhealthy: 1 passed, 1 warning, 1 failed, 1 not applicable');
  });
});

describe('freshness right after start', () => {
  it('no object yet in a pipeline younger than the limit is a warning, not a failure', () => {
    const r = checkFreshness('raw', 'b/data/', undefined, 180_000, true, undefined, 20_000);
    expect(r.status).toBe('warn');
    expect(r.evidence).toContain('started 20 s ago');
    const old = checkFreshness('raw', 'b/data/', undefined, 180_000, true, undefined, 200_000);
    expect(old.status).toBe('fail');
  });
});
