/**
 * The one list of checks, judged over DoctorFacts alone (no servers): a table of situations per
 * check, the way a missing fact reads for every check, and properties over any facts at all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildReport,
  CHECKS,
  type CheckResult,
  type CheckStatus,
  judgeAll,
} from '../../../src/cli/doctor/checks.js';
import type { DoctorFacts, EventSourceMappingFacts } from '../../../src/cli/doctor/facts.js';
import { stoppedFacts } from '../../../src/cli/doctor/gather-common.js';
import { resolveConfig } from '../../../src/pipeline/config.js';
import {
  anyFacts,
  awsFacts,
  config,
  goodMapping as good,
  healthyTables,
  k,
  localFacts,
  miss,
} from '../../factories/doctor-facts.js';

const agg = config.aggregator;

/** What is wrong with a result, if anything: every non-pass result names a fix, pass and n/a never carry one; evidence and fix are one line. */
function malformed(r: CheckResult): string | undefined {
  const needsFix = r.status === 'warn' || r.status === 'fail';
  if (needsFix && (r.fix === undefined || r.fix.trim() === '')) return `${r.id}: ${r.status} without a fix`;
  if (!needsFix && r.fix !== undefined) return `${r.id}: ${r.status} with a fix`;
  if (/[\r\n]/.test(r.evidence + (r.fix ?? ''))) return `${r.id}: more than one line`;
  return undefined;
}
const wellFormed = (r: CheckResult): void => expect(malformed(r)).toBeUndefined();

const byId = (f: DoctorFacts): Record<string, CheckResult> =>
  Object.fromEntries(judgeAll(f).map((c) => [c.id, c]));
const statuses = (f: DoctorFacts): Record<string, CheckStatus> =>
  Object.fromEntries(judgeAll(f).map((c) => [c.id, c.status]));

const esm =
  (e: Partial<EventSourceMappingFacts>, extra: EventSourceMappingFacts[] = []) =>
  (f: DoctorFacts) => {
    f.consumer = k({
      kind: 'mapping',
      functionName: 'paypipe-dev-aggregator',
      mappings: [{ ...good, ...e }, ...extra],
    });
  };
const errorsOf =
  (role: 'aggregator' | 'producer', invocations: number | undefined, errors: number, throttles?: number) =>
  (f: DoctorFacts) => {
    f.errors[role] = k({ functionName: 'fn', periodMs: 900_000, invocations, errors, throttles });
  };
const fresh =
  (raw: number | undefined, aggs: number | undefined, enabled = true, pipelineAgeMs?: number) =>
  (f: DoctorFacts) => {
    f.newest.raw = k({ where: 'data/', ageMs: raw });
    f.newest.aggregations = k({ where: 'a/', ageMs: aggs });
    f.schedule = k({ name: 'r', enabled, expression: 'rate(1 minute)' });
    f.limits.staleAfterMs = 180_000;
    f.pipelineAgeMs = pipelineAgeMs === undefined ? miss({ kind: 'not-here', why: 'x' }) : k(pipelineAgeMs);
  };
const lag = (ageMs: number | undefined) => (f: DoctorFacts) => {
  f.lag.aggregator = k({ label: 'IteratorAge', ageMs });
};

type Row = [string, 'aws' | 'local', (f: DoctorFacts) => void, string, CheckStatus, string];

const rows: Row[] = [
  ['credentials ok', 'aws', () => {}, 'credentials', 'pass', 'account 123'],
  [
    'credentials missing',
    'aws',
    (f) => {
      f.identity = k({ ok: false, error: 'Could not load credentials', network: false });
    },
    'credentials',
    'fail',
    'Could not load',
  ],
  ['region ok', 'aws', () => {}, 'region', 'pass', 'ap-southeast-2 (AWS_REGION)'],
  [
    'region blank',
    'aws',
    (f) => {
      f.region = k({ region: '  ', source: 'AWS_REGION' });
    },
    'region',
    'fail',
    'AWS_REGION is blank',
  ],
  [
    'region the resolver rejects',
    'aws',
    (f) => {
      f.region = k({
        problem: 'AWS_REGION "  " is not an AWS region name',
        hint: 'set AWS_REGION to a region like ap-southeast-2, or unset it',
      });
    },
    'region',
    'fail',
    'AWS_REGION "  " is not an AWS region name',
  ],
  [
    'region malformed',
    'aws',
    (f) => {
      f.region = k({ region: 'Sydney', source: '--region' });
    },
    'region',
    'fail',
    'is not an AWS region name',
  ],
  ['stack complete', 'aws', () => {}, 'stack', 'pass', 'UPDATE_COMPLETE'],
  ...(
    [
      ['stack updating', 'UPDATE_IN_PROGRESS', undefined, 'warn', 'UPDATE_IN_PROGRESS'],
      ['stack rolled back', 'UPDATE_ROLLBACK_COMPLETE', 'x failed', 'fail', 'x failed'],
      ['stack rolling back', 'ROLLBACK_IN_PROGRESS', undefined, 'fail', 'ROLLBACK_IN_PROGRESS'],
      ['stack missing', undefined, undefined, 'fail', 'not found'],
    ] as const
  ).map(
    ([name, status, reason, want, ev]): Row => [
      name,
      'aws',
      (f) => {
        f.stack = k({ name: 's', status, reason });
      },
      'stack',
      want,
      ev,
    ],
  ),
  [
    'stack unreadable',
    'aws',
    (f) => {
      f.stack = k({
        name: 's',
        error: 'CloudFormation DescribeStacks for s in eu-west-1 failed: AccessDenied: no',
      });
    },
    'stack',
    'fail',
    'DescribeStacks for s in eu-west-1 failed: AccessDenied',
  ],
  [
    'stack outputs missing mid-deploy',
    'aws',
    (f) => {
      f.stackOutputs = k({
        stackName: 's',
        status: 'CREATE_IN_PROGRESS',
        missing: ['InputStreamName', 'RawBucketName'],
        cliVersion: '0.1.0',
      });
    },
    'stack.outputs',
    'fail',
    'lacks the outputs InputStreamName, RawBucketName',
  ],
  [
    'stack deployed by this paypipe version',
    'aws',
    () => {},
    'stack.version',
    'pass',
    'deployed by paypipe 0.1.0, the version of this CLI',
  ],
  [
    'stack deployed by another paypipe version',
    'aws',
    (f) => {
      f.stackOutputs = k({
        stackName: 's',
        status: 'UPDATE_COMPLETE',
        missing: ['RawDeliveryStreamName'],
        version: '0.0.9',
        cliVersion: '0.1.0',
      });
    },
    'stack.version',
    'warn',
    'deployed by paypipe 0.0.9; this CLI is 0.1.0',
  ],
  [
    'stack from before versions were recorded',
    'aws',
    (f) => {
      f.stackOutputs = k({ stackName: 's', status: 'UPDATE_COMPLETE', missing: [], cliVersion: '0.1.0' });
    },
    'stack.version',
    'warn',
    'from before the PaypipeVersion output; this CLI is 0.1.0',
  ],
  ...(
    [
      ['stream active', { status: 'ACTIVE', openShards: 2, mode: 'PROVISIONED' }, 'pass', '2 open shards'],
      [
        'stream resharded',
        { status: 'ACTIVE', openShards: 4, mode: 'PROVISIONED' },
        'warn',
        'configured 2 shards',
      ],
      [
        'stream mode drift',
        { status: 'ACTIVE', openShards: 4, mode: 'ON_DEMAND' },
        'warn',
        'configured PROVISIONED',
      ],
      ['stream updating', { status: 'UPDATING', openShards: 2 }, 'warn', 'UPDATING'],
      ['stream deleting', { status: 'DELETING' }, 'fail', 'DELETING'],
      ['stream missing', {}, 'fail', 'does not exist'],
    ] as const
  ).map(
    ([name, s, want, ev]): Row => [
      name,
      'aws',
      (f) => {
        f.streams.input = k({ name: 'in', ...s });
      },
      'stream.input',
      want,
      ev,
    ],
  ),
  ...(
    [
      ['firehose active', { status: 'ACTIVE' }, 'pass', 'ACTIVE'],
      ['firehose creating', { status: 'CREATING' }, 'warn', 'CREATING'],
      ['firehose failing', { status: 'ACTIVE', failure: 'S3 AccessDenied' }, 'fail', 'AccessDenied'],
      ['firehose missing', {}, 'fail', 'does not exist'],
    ] as const
  ).map(
    ([name, d, want, ev]): Row => [
      name,
      'aws',
      (f) => {
        f.delivery.raw = k({ kind: 'firehose', name: 'f', ...d });
      },
      'firehose.raw',
      want,
      ev,
    ],
  ),
  ['esm enabled', 'aws', esm({}), 'esm.state', 'pass', 'Enabled'],
  ['esm enabling', 'aws', esm({ State: 'Enabling' }), 'esm.state', 'warn', 'Enabling'],
  [
    'esm disabled',
    'aws',
    esm({ State: 'Disabled', StateTransitionReason: 'USER_INITIATED' }),
    'esm.state',
    'fail',
    'USER_INITIATED',
  ],
  ['last result ok', 'aws', esm({}), 'esm.last-result', 'pass', 'OK'],
  [
    'last result none',
    'aws',
    esm({ LastProcessingResult: 'No records processed' }),
    'esm.last-result',
    'warn',
    'No records',
  ],
  [
    'last result problem',
    'aws',
    esm({ LastProcessingResult: 'PROBLEM: Function call failed' }),
    'esm.last-result',
    'fail',
    'PROBLEM',
  ],
  ['bisect on', 'aws', esm({}), 'esm.bisect', 'pass', 'on'],
  ['bisect off', 'aws', esm({ BisectBatchOnFunctionError: false }), 'esm.bisect', 'fail', 'configured on'],
  ['retries as configured', 'aws', esm({}), 'esm.retries', 'pass', String(agg.retryAttempts)],
  ['retries drift', 'aws', esm({ MaximumRetryAttempts: 7 }), 'esm.retries', 'warn', 'configured 3'],
  ['retries infinite', 'aws', esm({ MaximumRetryAttempts: -1 }), 'esm.retries', 'fail', 'infinite'],
  ['record age as configured', 'aws', esm({}), 'esm.max-record-age', 'pass', '3600 s'],
  [
    'record age drift',
    'aws',
    esm({ MaximumRecordAgeInSeconds: 600 }),
    'esm.max-record-age',
    'warn',
    'configured 3600',
  ],
  [
    'record age infinite',
    'aws',
    esm({ MaximumRecordAgeInSeconds: -1 }),
    'esm.max-record-age',
    'fail',
    'infinite',
  ],
  [
    'retries -1 as configured (the no-loss default)',
    'aws',
    (f: DoctorFacts) => {
      f.config = resolveConfig({});
      esm({ MaximumRetryAttempts: -1 })(f);
    },
    'esm.retries',
    'pass',
    'as configured',
  ],
  [
    'record age -1 as configured (the no-loss default)',
    'aws',
    (f: DoctorFacts) => {
      f.config = resolveConfig({});
      esm({ MaximumRecordAgeInSeconds: -1 })(f);
    },
    'esm.max-record-age',
    'pass',
    'no limit',
  ],
  [
    'record age bounded where -1 is configured: drift',
    'aws',
    (f: DoctorFacts) => {
      f.config = resolveConfig({});
      esm({ MaximumRecordAgeInSeconds: 3600 })(f);
    },
    'esm.max-record-age',
    'warn',
    'configured -1 (no limit)',
  ],
  ['on-failure set', 'aws', esm({}), 'esm.on-failure', 'pass', 'arn:aws:sqs'],
  ['on-failure missing', 'aws', esm({ DestinationConfig: {} }), 'esm.on-failure', 'fail', 'dropped'],
  ['partial batch on', 'aws', esm({}), 'esm.partial-batch', 'pass', 'ReportBatchItemFailures'],
  ['partial batch off', 'aws', esm({ FunctionResponseTypes: [] }), 'esm.partial-batch', 'fail', 'lacks'],
  ['batch size as configured', 'aws', esm({}), 'esm.batch-size', 'pass', '500'],
  ['batch size drift', 'aws', esm({ BatchSize: 100 }), 'esm.batch-size', 'warn', 'configured 500'],
  [
    'batching window as configured',
    'aws',
    esm({}),
    'esm.batching-window',
    'pass',
    `${agg.maxBatchingWindowSeconds} s`,
  ],
  [
    'batching window drift',
    'aws',
    esm({ MaximumBatchingWindowInSeconds: 30 }),
    'esm.batching-window',
    'warn',
    `configured ${agg.maxBatchingWindowSeconds} s`,
  ],
  ['starting position', 'aws', esm({}), 'esm.starting-position', 'pass', 'TRIM_HORIZON'],
  [
    'starting position drift',
    'aws',
    esm({ StartingPosition: 'LATEST' }),
    'esm.starting-position',
    'warn',
    'LATEST',
  ],
  ['parallelization', 'aws', esm({}), 'esm.parallelization', 'pass', '1'],
  [
    'parallelization drift',
    'aws',
    esm({ ParallelizationFactor: 4 }),
    'esm.parallelization',
    'warn',
    'configured 1',
  ],
  [
    'two mappings',
    'aws',
    esm({}, [{ ...good, UUID: 'u-2' }]),
    'esm.count',
    'warn',
    '2 mappings from the input stream',
  ],
  [
    'no mapping',
    'aws',
    (f) => {
      f.consumer = k({ kind: 'mapping', functionName: 'paypipe-dev-aggregator', mappings: [] });
    },
    'esm.state',
    'fail',
    'paypipe-dev-aggregator has no event source mapping',
  ],
  ['failure queue empty', 'aws', () => {}, 'failures', 'pass', 'empty'],
  [
    'failure queue has batches',
    'aws',
    (f) => {
      f.failedBatches = k({ where: 'q', count: 3 });
    },
    'failures',
    'warn',
    '3 failed batches',
  ],
  [
    'failure queue unreadable',
    'aws',
    (f) => {
      f.failedBatches = k({ where: 'q' });
    },
    'failures',
    'fail',
    'could not be read',
  ],
  ['no dead letters', 'aws', () => {}, 'dead-letters', 'pass', 'none'],
  [
    'dead letters',
    'aws',
    (f) => {
      f.deadLetters = k({ where: 'dead-letters/', objects: 2, records: 7 });
    },
    'dead-letters',
    'warn',
    '7 records in 2 objects',
  ],
  [
    'too many dead letters to count records',
    'aws',
    (f) => {
      f.deadLetters = k({ where: 'dead-letters/', objects: 51 });
    },
    'dead-letters',
    'warn',
    '51 dead-letter objects',
  ],
  ['lag fine', 'aws', lag(1500), 'lag.aggregator', 'pass', '2 s'],
  ['lag over a window', 'aws', lag(90_000), 'lag.aggregator', 'warn', '1 min 30 s'],
  ['lag falling behind', 'aws', lag(900_000), 'lag.aggregator', 'fail', '15 min'],
  ['lag no data', 'aws', lag(undefined), 'lag.aggregator', 'warn', 'no datapoints for IteratorAge'],
  [
    'no errors',
    'aws',
    errorsOf('aggregator', 10, 0, 0),
    'errors.aggregator',
    'pass',
    '10 invocations, 0 errors, 0 throttles',
  ],
  ['some errors', 'aws', errorsOf('aggregator', 10, 2, 0), 'errors.aggregator', 'warn', '2 errors'],
  ['all errors', 'aws', errorsOf('producer', 3, 3), 'errors.producer', 'fail', '3 errors'],
  ['throttles', 'aws', errorsOf('producer', 3, 0, 5), 'errors.producer', 'warn', '5 throttles'],
  ['fresh', 'aws', fresh(30_000, 50_000), 'freshness.raw', 'pass', '30 s old'],
  ['stale', 'aws', fresh(30_000, 600_000), 'freshness.aggregations', 'fail', '10 min old'],
  ['stale while disabled', 'aws', fresh(600_000, 600_000, false), 'freshness.raw', 'warn', 'limit 3 min'],
  ['no objects', 'aws', fresh(undefined, undefined), 'freshness.raw', 'fail', 'no object'],
  [
    'no objects while disabled',
    'aws',
    fresh(undefined, undefined, false),
    'freshness.raw',
    'warn',
    'no object',
  ],
  [
    'aggregates quiet with raw',
    'aws',
    fresh(550_000, 600_000, false),
    'freshness.aggregations',
    'warn',
    '10 min old',
  ],
  [
    'aggregates behind raw',
    'aws',
    fresh(20_000, 600_000, false),
    'freshness.aggregations',
    'fail',
    'raw data 20 s old is newer',
  ],
  [
    'no aggregates but raw',
    'aws',
    fresh(20_000, undefined, false),
    'freshness.aggregations',
    'fail',
    'no object',
  ],
  ['fresh aggregates', 'aws', fresh(20_000, 50_000), 'freshness.aggregations', 'pass', '50 s old'],
  [
    'no object yet in a young pipeline',
    'local',
    fresh(undefined, undefined, true, 20_000),
    'freshness.raw',
    'warn',
    'started 20 s ago',
  ],
  [
    'no object in an old pipeline',
    'local',
    fresh(undefined, undefined, true, 200_000),
    'freshness.raw',
    'fail',
    'no object',
  ],
  ['schedule enabled', 'aws', () => {}, 'schedule', 'pass', '100 events per run'],
  [
    'schedule disabled',
    'aws',
    (f) => {
      f.schedule = k({ name: 'r', enabled: false, expression: 'rate(1 minute)' });
    },
    'schedule',
    'warn',
    'DISABLED',
  ],
  [
    'schedule missing',
    'aws',
    (f) => {
      f.schedule = k({ name: 'r' });
    },
    'schedule',
    'fail',
    'not found',
  ],
  [
    'probe through',
    'aws',
    (f) => {
      f.probe = k({
        marker: 'CANARY-1',
        currency: 'XPF',
        windowStart: 'w',
        hops: [
          { name: 'raw bucket', latencyMs: 1200 },
          { name: 'analytics bucket', latencyMs: 3400 },
        ],
        timeoutMs: 60_000,
      });
    },
    'probe',
    'pass',
    'raw bucket 1 s, analytics bucket 3 s',
  ],
  [
    'probe stuck',
    'aws',
    (f) => {
      f.probe = k({
        marker: 'CANARY-1',
        currency: 'XPF',
        windowStart: 'w',
        hops: [{ name: 'raw bucket', latencyMs: 1200 }, { name: 'analytics bucket' }],
        timeoutMs: 60_000,
      });
    },
    'probe',
    'fail',
    'stuck before analytics bucket after 1 min',
  ],
  // Local-only judgements.
  ['local running', 'local', () => {}, 'local.running', 'pass', 'pid 42'],
  [
    'local servers down',
    'local',
    (f) => {
      f.localServers = k({
        kinesisEndpoint: 'k',
        s3Endpoint: 's',
        logFile: '/d/servers.log',
        error: 'ECONNREFUSED',
      });
    },
    'local.servers',
    'fail',
    'not answering: ECONNREFUSED',
  ],
  ['local poller', 'local', () => {}, 'esm.state', 'pass', '40 records read'],
  [
    'local poller stopped',
    'local',
    (f) => {
      f.consumer = k({
        kind: 'poller',
        running: false,
        pid: 1,
        statusAgeMs: 0,
        shards: 2,
        recordsRead: 0,
        invocations: 0,
        retries: 0,
      });
    },
    'esm.state',
    'fail',
    'stopped',
  ],
  [
    'local poller stuck',
    'local',
    (f) => {
      f.consumer = k({
        kind: 'poller',
        running: true,
        pid: 1,
        statusAgeMs: 30_000,
        shards: 2,
        recordsRead: 0,
        invocations: 0,
        retries: 0,
      });
    },
    'esm.state',
    'fail',
    'status.json not updated for 30 s',
  ],
  [
    'local delivery gave records up',
    'local',
    (f) => {
      f.delivery.raw = k({
        kind: 'local',
        name: 'raw',
        running: true,
        recordsDelivered: 1,
        objectsWritten: 1,
        bufferedRecords: 0,
        deliveryErrors: 3,
        errorObjects: 1,
        logFile: 'l',
      });
    },
    'firehose.raw',
    'fail',
    'written under errors/',
  ],
  [
    'local delivery retried',
    'local',
    (f) => {
      f.delivery.raw = k({
        kind: 'local',
        name: 'raw',
        running: true,
        recordsDelivered: 1,
        objectsWritten: 1,
        bufferedRecords: 0,
        deliveryErrors: 3,
        errorObjects: 0,
        logFile: 'l',
      });
    },
    'firehose.raw',
    'warn',
    '3 delivery attempts failed and were retried',
  ],
  ['local: no IAM', 'local', () => {}, 'credentials', 'n/a', 'no AWS account'],
  // Query tables. Adversary: a table that exists but reads the wrong objects (edited in the
  // console, left from another version), which answers queries wrongly with no error.
  ['tables match the stack', 'aws', () => {}, 'tables', 'pass', 'paypipe_dev: raw_events, raw_lines'],
  [
    'a stack from before the tables',
    'aws',
    (f) => {
      f.tables = k({ ...healthyTables(), database: undefined, tables: {} });
    },
    'tables',
    'warn',
    'no GlueDatabaseName output',
  ],
  [
    'a table is gone',
    'aws',
    (f) => {
      const t = healthyTables();
      delete t.tables.dead_letters;
      f.tables = k(t);
    },
    'tables',
    'fail',
    'paypipe_dev: no table dead_letters',
  ],
  [
    'a table reads another location',
    'aws',
    (f) => {
      const t = healthyTables();
      t.tables.raw_events = {
        ...t.tables.raw_events,
        location: 's3://raw-bucket/old-data/',
        parameters: t.tables.raw_events?.parameters ?? {},
      };
      f.tables = k(t);
    },
    'tables',
    'fail',
    'raw_events reads s3://raw-bucket/old-data/, the stack writes s3://raw-bucket/data/',
  ],
  [
    'a projection template that is not the Firehose prefix',
    'aws',
    (f) => {
      const t = healthyTables();
      const bo = t.tables.batch_outputs as { location?: string; parameters: Record<string, string> };
      // Hive's `year=` dropped from the template: the folders Firehose writes no longer match.
      bo.parameters['storage.location.template'] = (bo.parameters['storage.location.template'] ?? '').replace(
        /(year|month|day|hour)=/g,
        '',
      );
      f.tables = k(t);
    },
    'tables',
    'fail',
    'batch_outputs has storage.location.template = s3://analytics-bucket/aggregations/$',
  ],
  [
    'projection turned off',
    'aws',
    (f) => {
      const t = healthyTables();
      const dl = t.tables.dead_letters as { parameters: Record<string, string> };
      dl.parameters['projection.enabled'] = 'false';
      f.tables = k(t);
    },
    'tables',
    'fail',
    'dead_letters has projection.enabled = false, expected true',
  ],
  [
    'tables in another bucket than the stack writes',
    'aws',
    (f) => {
      f.tables = k({ ...healthyTables(), buckets: { raw: 'raw-bucket', analytics: 'other-bucket' } });
    },
    'tables',
    'fail',
    'batch_outputs reads s3://analytics-bucket/aggregations/, the stack writes s3://other-bucket/aggregations/',
  ],
  [
    'GetTable denied',
    'aws',
    (f) => {
      f.tables = miss({ kind: 'denied', error: 'AccessDeniedException: no', permission: 'glue:GetTable' });
    },
    'tables',
    'warn',
    'could not check: AccessDeniedException',
  ],
  [
    'queryTables off in this environment',
    'aws',
    (f) => {
      f.tables = miss({ kind: 'not-here', why: 'queryTables is false in this environment' });
    },
    'tables',
    'n/a',
    'queryTables is false',
  ],
  ['local: no Glue catalog', 'local', () => {}, 'tables', 'n/a', 'no Glue catalog'],
  ['local: no mapping settings', 'local', () => {}, 'esm.settings', 'n/a', 'runs the configuration itself'],
];

describe('each check, table-driven over DoctorFacts', () => {
  it.each(rows)('%s', (_name, target, change, id, status, evidence) => {
    const f = target === 'aws' ? awsFacts() : localFacts();
    change(f);
    const all = judgeAll(f);
    const r = all.find((c) => c.id === id);
    expect(r, `${id} in ${all.map((c) => c.id).join(', ')}`).toBeDefined();
    expect(r?.status).toBe(status);
    expect(r?.evidence).toContain(evidence);
    for (const c of all) wellFormed(c);
  });
});

describe('a healthy pipeline', () => {
  it('AWS: every check passes, in this order', () => {
    const s = statuses(awsFacts());
    expect(Object.keys(s)).toEqual([
      'credentials',
      'region',
      'stack',
      'stack.version',
      'stream.input',
      'stream.output',
      'firehose.raw',
      'firehose.analytics',
      'tables',
      'esm.state',
      'esm.last-result',
      'esm.bisect',
      'esm.retries',
      'esm.max-record-age',
      'esm.on-failure',
      'esm.partial-batch',
      'esm.batch-size',
      'esm.batching-window',
      'esm.starting-position',
      'esm.parallelization',
      'failures',
      'dead-letters',
      'lag.stream',
      'lag.aggregator',
      'errors.aggregator',
      'errors.producer',
      'freshness.raw',
      'freshness.aggregations',
      'schedule',
      'alarms',
      'throughput',
      'lag.hour',
      'rejects',
    ]);
    expect(Object.values(s).every((v) => v === 'pass')).toBe(true);
  });

  it('local: passes, and says n/a (never pass) where a check has no local meaning', () => {
    const s = statuses(localFacts());
    expect(Object.keys(s)).toEqual([
      'local.running',
      'credentials',
      'region',
      'stack',
      'local.servers',
      'stream.input',
      'stream.output',
      'firehose.raw',
      'firehose.analytics',
      'tables',
      'esm.state',
      'esm.settings',
      'failures',
      'dead-letters',
      'lag.stream',
      'lag.aggregator',
      'errors.aggregator',
      'errors.producer',
      'freshness.raw',
      'freshness.aggregations',
      'schedule',
      'alarms',
      'throughput',
      'lag.hour',
      'rejects',
    ]);
    const na = Object.keys(s).filter((id) => s[id] === 'n/a');
    expect(na.sort()).toEqual(['credentials', 'esm.settings', 'lag.stream', 'region', 'stack', 'tables']);
    const r = buildReport(localFacts());
    expect(r.counts).toEqual({ pass: 19, warn: 0, fail: 0, 'n/a': 6 });
    expect(r.ok).toBe(true);
  });

  it('the mapping lint follows the configuration: a mapping matching a changed config passes, the old one drifts', () => {
    const f = awsFacts();
    f.config = resolveConfig({ batchSize: 100, retryAttempts: 5, maxRecordAgeSeconds: 3600 });
    expect(statuses(f)).toMatchObject({ 'esm.batch-size': 'warn', 'esm.retries': 'warn' });
    esm({ BatchSize: 100, MaximumRetryAttempts: 5 })(f);
    expect(
      judgeAll(f)
        .filter((c) => c.id.startsWith('esm.'))
        .every((c) => c.status === 'pass'),
    ).toBe(true);
  });
});

describe('a missing fact reads the same for every check', () => {
  const cases: Array<[string, (f: DoctorFacts) => void, string[]]> = [
    [
      'input stream',
      (f) => {
        f.streams.input = miss({
          kind: 'denied',
          error: 'AccessDeniedException: no',
          permission: 'kinesis:DescribeStreamSummary',
        });
      },
      ['stream.input'],
    ],
    [
      'metrics',
      (f) => {
        const m = miss<never>({
          kind: 'denied',
          error: 'AccessDeniedException: not allowed',
          permission: 'cloudwatch:GetMetricData',
        });
        f.lag = { stream: m, aggregator: m };
        f.errors = { aggregator: m, producer: m };
      },
      ['lag.stream', 'lag.aggregator', 'errors.aggregator', 'errors.producer'],
    ],
  ];
  it.each(cases)(
    'denied (%s): a warning naming the permission, the pipeline may be fine',
    (_n, change, ids) => {
      const f = awsFacts();
      change(f);
      const r = buildReport(f);
      for (const id of ids) {
        const c = r.checks.find((x) => x.id === id);
        expect(c?.status, id).toBe('warn');
        expect(c?.evidence).toMatch(/^could not check: AccessDeniedException/);
        expect(c?.fix).toMatch(
          /^grant (kinesis:DescribeStreamSummary|cloudwatch:GetMetricData) to the identity running doctor$/,
        );
      }
      expect(r.ok).toBe(true);
    },
  );

  it('failed: a failure with a pasteable way to see the full error', () => {
    const f = awsFacts({ target: 'aws', env: 'prod' });
    f.newest.raw = miss({ kind: 'failed', error: 'bucket b does not exist' });
    const c = byId(f)['freshness.raw'];
    expect(c).toMatchObject({ status: 'fail', evidence: 'could not check: bucket b does not exist' });
    expect(c?.fix).toContain('`paypipe doctor --debug --env prod`');
  });

  it('the mapping unreadable: one result on esm.state, not one per lint rule', () => {
    const f = awsFacts();
    f.consumer = miss({
      kind: 'denied',
      error: 'AccessDeniedException: x',
      permission: 'lambda:ListEventSourceMappings',
    });
    const esmChecks = judgeAll(f).filter((c) => c.id.startsWith('esm.'));
    expect(esmChecks.map((c) => [c.id, c.status])).toEqual([['esm.state', 'warn']]);
  });

  it('locally, no status.json: the poller fails, the mapping settings stay n/a', () => {
    const f = localFacts();
    f.consumer = miss({ kind: 'failed', error: 'no status.json in /d' });
    expect(statuses(f)).toMatchObject({ 'esm.state': 'fail', 'esm.settings': 'n/a' });
  });

  it('skipped: the report stops where gathering stopped', () => {
    const base = {
      target: 'aws' as const,
      subject: 's',
      config,
      invocation: { target: 'aws' as const },
      limits: {},
    };
    const noCreds = {
      ...stoppedFacts(base, 'no credentials'),
      region: k({ region: 'eu-west-1', source: '--region' as const }),
      identity: k({ ok: false as const, error: 'CredentialsProviderError: none', network: false }),
    };
    expect(judgeAll(noCreds).map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'fail'],
      ['region', 'pass'],
    ]);
    const notRunning = {
      ...stoppedFacts({ ...base, target: 'local', invocation: { target: 'local' } }, 'not running'),
      localPipeline: k({ running: false as const, reason: 'no local pipeline is running in /d' }),
      identity: miss<never>({ kind: 'not-here', why: 'local' }),
      region: miss<never>({ kind: 'not-here', why: 'local' }),
      stack: miss<never>({ kind: 'not-here', why: 'local' }),
    };
    expect(judgeAll(notRunning).map((c) => [c.id, c.status])).toEqual([
      ['local.running', 'fail'],
      ['credentials', 'n/a'],
      ['region', 'n/a'],
      ['stack', 'n/a'],
    ]);
  });
});

describe('properties over any facts', () => {
  const order = CHECKS.map((c) => c.id);

  it('every result is well formed, in list order, each id once; ok exactly when nothing failed', () => {
    fc.assert(
      fc.property(fc.oneof(anyFacts('aws'), anyFacts('local')), (f) => {
        const r = buildReport(f);
        const problems = r.checks.map(malformed).filter((x) => x !== undefined);
        const ids = r.checks.map((c) => c.id);
        const positions = ids.map((id) => order.indexOf(id));
        const total = r.counts.pass + r.counts.warn + r.counts.fail + r.counts['n/a'];
        // One expect per run: thousands of runs stay fast.
        expect({
          problems,
          unique: new Set(ids).size === ids.length,
          inOrder: positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] as number))),
          counted: total === r.checks.length,
          ok: r.ok === !r.checks.some((c) => c.status === 'fail'),
        }).toEqual({ problems: [], unique: true, inOrder: true, counted: true, ok: true });
      }),
      { numRuns: 300 },
    );
  });

  it('free text from AWS (a multi-line stack reason, failure details) stays on one line', () => {
    const f = awsFacts();
    f.stack = k({
      name: 's',
      status: 'UPDATE_ROLLBACK_COMPLETE',
      reason: 'Resource failed:\nRole x\r\nnot found',
    });
    f.delivery.raw = k({ kind: 'firehose', name: 'r', status: 'ACTIVE', failure: 'KMS:\n denied' });
    const r = byId(f);
    expect(r.stack?.evidence).toBe('s: UPDATE_ROLLBACK_COMPLETE — Resource failed: Role x not found');
    expect(r['firehose.raw']?.evidence).toBe('r: ACTIVE — KMS: denied');
  });

  it('a blank or whitespace region is never a pass, whatever its source', () => {
    const blank = fc.array(fc.constantFrom(' ', '\t', '\n', '\u00a0', '\u2003', '\u3000', '\ufeff'), {
      maxLength: 4,
    });
    const source = fc.constantFrom('--region' as const, 'AWS_REGION' as const, 'AWS_DEFAULT_REGION' as const);
    fc.assert(
      fc.property(blank, source, (chars, src) => {
        const f = awsFacts();
        f.region = k({ region: chars.join(''), source: src });
        const r = byId(f).region;
        expect(r?.status).toBe('fail');
        expect(r?.evidence).toContain(`${src} is blank`);
        expect(r?.fix).toContain('`paypipe doctor --region ap-southeast-2`');
      }),
    );
  });
});
