/**
 * The AWS gatherer with its control plane faked (STS, CloudFormation, Lambda, Firehose, SQS,
 * CloudWatch, EventBridge, Glue: no local server implements them) and its data plane (Kinesis, S3) on a
 * real local pipeline's servers.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { EntityNotFoundException, GetTableCommand, GlueClient } from '@aws-sdk/client-glue';
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paypipeVersion } from '../../../src/version.js';
import { buildReport, type CheckStatus, type DoctorReport } from '../../../src/cli/doctor/checks.js';
import { gatherAws } from '../../../src/cli/doctor/gather-aws.js';
import { alarmDefinitions } from '../../../src/pipeline/alarms.js';
import { queryTables, TABLE_NAMES } from '../../../src/pipeline/tables.js';
import type { GatherOptions } from '../../../src/cli/doctor/gather-common.js';
import type { TargetFlags } from '../../../src/cli/options.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../../helpers/local-pipeline.js';

let p: TestPipeline;
beforeAll(async () => {
  p = await startTestPipeline();
  await sendEvents(p, makeEvents(12, { startMs: Date.now() - 30_000, spanMs: 30_000, prefix: 'AWS' }));
  await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
});
afterAll(async () => {
  for (const m of [sts, cfn, lambda, firehose, sqs, cw, eb, glue]) m.restore();
  await p?.cleanup();
});

const sts = mockClient(STSClient);
const cfn = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
const firehose = mockClient(FirehoseClient);
const sqs = mockClient(SQSClient);
const cw = mockClient(CloudWatchClient);
const eb = mockClient(EventBridgeClient);
const glue = mockClient(GlueClient);

const statuses = (r: DoctorReport): Record<string, CheckStatus> =>
  Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
const check = (r: DoctorReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};

const outputs = () => {
  const c = p.config;
  return {
    InputStreamName: c.streams.input.name,
    OutputStreamName: c.streams.output.name,
    RawBucketName: c.buckets.raw,
    AnalyticsBucketName: c.buckets.analytics,
    ProducerFunctionName: c.producer.functionName,
    AggregatorFunctionName: c.aggregator.functionName,
    FailureQueueUrl: 'https://sqs.ap-southeast-2.amazonaws.com/123456789012/paypipe-dev-aggregator-failures',
    RawDeliveryStreamName: c.firehose.raw.name,
    AnalyticsDeliveryStreamName: c.firehose.analytics.name,
    ProducerScheduleRuleName: 'paypipe-dev-ProducerSchedule',
    Region: 'ap-southeast-2',
    PaypipeVersion: paypipeVersion(),
    GlueDatabaseName: queryTables(c).database,
    AthenaWorkGroupName: c.query.workGroupName,
  };
};

/** GetTable as Glue answers it for the tables the stack created over its buckets. */
const glueTable = (name: string) => {
  const t = queryTables(p.config).tables[name as (typeof TABLE_NAMES)[number]];
  const bucket = t.bucket === 'raw' ? p.config.buckets.raw : p.config.buckets.analytics;
  return {
    Table: {
      Name: name,
      DatabaseName: queryTables(p.config).database,
      StorageDescriptor: { Location: t.location(bucket) },
      Parameters: { ...t.parameters(bucket) },
    },
  };
};
const agg = () => p.config.aggregator;
const mapping = (o: Record<string, unknown> = {}) => ({
  UUID: 'esm-1',
  EventSourceArn: `arn:aws:kinesis:ap-southeast-2:123456789012:stream/${p.config.streams.input.name}`,
  State: 'Enabled',
  LastProcessingResult: 'OK',
  BatchSize: agg().batchSize,
  MaximumBatchingWindowInSeconds: agg().maxBatchingWindowSeconds,
  BisectBatchOnFunctionError: true,
  MaximumRetryAttempts: agg().retryAttempts,
  MaximumRecordAgeInSeconds: agg().maxRecordAgeSeconds,
  DestinationConfig: { OnFailure: { Destination: 'arn:aws:sqs:ap-southeast-2:123456789012:q' } },
  FunctionResponseTypes: ['ReportBatchItemFailures' as const],
  StartingPosition: 'TRIM_HORIZON' as const,
  ParallelizationFactor: 1,
  ...o,
});
const metrics = (v: Record<string, number[]>) => ({
  MetricDataResults: Object.entries(v).map(([Id, Values]) => ({
    Id,
    Values,
    Timestamps: Values.map((_, i) => new Date(Date.now() - i * 60_000)),
  })),
});
const stack = (o: Record<string, unknown> = {}) => ({
  Stacks: [
    {
      StackName: 'paypipe-dev',
      StackStatus: 'UPDATE_COMPLETE' as const,
      CreationTime: new Date(),
      Outputs: Object.entries(outputs()).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      ...o,
    },
  ],
});

/** DescribeAlarms as CloudWatch answers it for the deployed stack: every alarm of the config, OK. */
const recordedAlarms = (alarm: Record<string, string> = {}) => ({
  MetricAlarms: alarmDefinitions(p.config).map((d) => ({
    AlarmName: d.name,
    AlarmArn: `arn:aws:cloudwatch:ap-southeast-2:123456789012:alarm:${d.name}`,
    StateValue: (alarm[d.id] ?? 'OK') as 'OK' | 'ALARM',
    StateReason:
      alarm[d.id] === 'ALARM'
        ? 'Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (5.0).'
        : 'Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints were treated as [NonBreaching].',
    StateUpdatedTimestamp: new Date('2025-01-15T10:00:00Z'),
  })),
  CompositeAlarms: [],
});

/** Only the doctor's 15-minute health query (the hour of monitoring figures is another call). */
const healthQueries = () =>
  cw.commandCalls(GetMetricDataCommand).filter((c) => {
    const i = c.args[0].input as GetMetricDataCommandInput;
    return (i.EndTime as Date).getTime() - (i.StartTime as Date).getTime() === 15 * 60_000;
  });

function healthy(): void {
  for (const m of [sts, cfn, lambda, firehose, sqs, cw, eb, glue]) m.reset();
  sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ops' });
  cfn.on(DescribeStacksCommand).resolves(stack());
  lambda.on(ListEventSourceMappingsCommand).resolves({ EventSourceMappings: [mapping()] });
  lambda
    .on(GetFunctionConfigurationCommand)
    .resolves({ Environment: { Variables: { EVENTS_PER_INVOCATION: '100' } } });
  firehose.on(DescribeDeliveryStreamCommand).callsFake((input: { DeliveryStreamName: string }) => ({
    DeliveryStreamDescription: {
      DeliveryStreamName: input.DeliveryStreamName,
      DeliveryStreamStatus: 'ACTIVE',
    },
  }));
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
  cw.on(GetMetricDataCommand).resolves(
    metrics({
      streamAge: [800, 30_000],
      fnAge: [1200],
      aggErrors: [0, 0],
      aggThrottles: [0],
      aggInvocations: [12, 15],
      prodErrors: [0],
      prodThrottles: [0],
      prodInvocations: [1, 1],
    }),
  );
  cw.on(DescribeAlarmsCommand).resolves(recordedAlarms());
  eb.on(DescribeRuleCommand).resolves({
    Name: 'paypipe-dev-ProducerSchedule',
    State: 'ENABLED',
    ScheduleExpression: 'rate(1 minute)',
  });
  glue.on(GetTableCommand).callsFake((input: { Name: string }) => glueTable(input.Name));
  eb.on(ListTargetsByRuleCommand).resolves({
    Targets: [
      {
        Id: 'Target0',
        Arn: `arn:aws:lambda:ap-southeast-2:123456789012:function:${p.config.producer.functionName}`,
      },
    ],
  });
}

const run = async (
  f: TargetFlags = {},
  env: NodeJS.ProcessEnv = { AWS_REGION: 'ap-southeast-2' },
  o: Partial<GatherOptions> = {},
) =>
  buildReport(
    await gatherAws(
      f,
      { probe: false, timeoutMs: 20_000, pollMs: 100, ...o },
      { kinesis: p.kinesis, s3: p.s3, env },
    ),
  );

describe('gatherAws', () => {
  it('passes a deployed stack whose mapping matches the configuration, reading the stack once', async () => {
    healthy();
    const r = await run();
    const s = statuses(r);
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
    expect(Object.entries(s).filter(([, v]) => v !== 'pass')).toEqual([]);
    expect(check(r, 'credentials').evidence).toBe(
      'arn:aws:iam::123456789012:user/ops (account 123456789012)',
    );
    expect(check(r, 'region').evidence).toBe('ap-southeast-2 (AWS_REGION)');
    // The newest datapoint, not the largest: 800 ms now, 30 s a minute ago.
    expect(check(r, 'lag.stream').evidence).toBe('GetRecords.IteratorAgeMilliseconds (latest minute) 800 ms');
    expect(check(r, 'errors.aggregator').evidence).toContain('27 invocations, 0 errors, 0 throttles');
    expect(check(r, 'schedule').evidence).toContain('ENABLED, rate(1 minute), 100 events per run');
    expect(r.subject).toBe('stack paypipe-dev in ap-southeast-2');
    const q = healthQueries()[0]?.args[0].input as GetMetricDataCommandInput;
    const stream = q.MetricDataQueries?.find((x) => x.Id === 'streamAge')?.MetricStat;
    expect(stream?.Metric).toEqual({
      Namespace: 'AWS/Kinesis',
      MetricName: 'GetRecords.IteratorAgeMilliseconds',
      Dimensions: [{ Name: 'StreamName', Value: p.config.streams.input.name }],
    });
    expect((q.EndTime as Date).getTime() - (q.StartTime as Date).getTime()).toBe(15 * 60_000);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)[0]?.args[0].input).toMatchObject({
      FunctionName: p.config.aggregator.functionName,
    });
    // Status and outputs come from one DescribeStacks.
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(check(r, 'tables').evidence).toContain(
      'paypipe_dev: raw_events, raw_lines, batch_outputs, dead_letters',
    );
    expect(glue.commandCalls(GetTableCommand).map((c) => c.args[0].input)).toEqual(
      TABLE_NAMES.map((Name) => ({ DatabaseName: 'paypipe_dev', Name })),
    );
  });

  describe('query tables', () => {
    it('a table Glue does not have fails, naming it; one reading another prefix fails, naming both', async () => {
      healthy();
      glue
        .on(GetTableCommand, { Name: 'raw_lines' })
        .rejects(new EntityNotFoundException({ message: 'Table raw_lines not found', $metadata: {} }));
      let r = await run();
      expect(check(r, 'tables')).toMatchObject({
        status: 'fail',
        evidence: 'paypipe_dev: no table raw_lines',
      });
      expect(check(r, 'tables').fix).toContain('paypipe deploy');

      healthy();
      const moved = glueTable('batch_outputs');
      moved.Table.Parameters['storage.location.template'] = moved.Table.Parameters[
        'storage.location.template'
      ]?.replace('aggregations/', 'aggregates/') as string;
      glue.on(GetTableCommand, { Name: 'batch_outputs' }).resolves(moved);
      r = await run();
      expect(check(r, 'tables').status).toBe('fail');
      expect(check(r, 'tables').evidence).toContain('batch_outputs has storage.location.template');
    });

    it('GetTable denied is a warning naming the permission; a stack without the output is a warning', async () => {
      healthy();
      glue
        .on(GetTableCommand)
        .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }));
      let r = await run();
      expect(check(r, 'tables')).toMatchObject({ status: 'warn' });
      expect(check(r, 'tables').fix).toContain('glue:GetTable');

      healthy();
      const { GlueDatabaseName: _db, AthenaWorkGroupName: _wg, ...older } = outputs();
      cfn.on(DescribeStacksCommand).resolves(
        stack({
          Outputs: Object.entries(older).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        }),
      );
      r = await run();
      expect(check(r, 'tables')).toMatchObject({ status: 'warn' });
      expect(check(r, 'tables').evidence).toContain('no GlueDatabaseName output');
      expect(glue.commandCalls(GetTableCommand)).toHaveLength(0);
    });
  });

  it('counts dead letters of the last hour, read from the analytics bucket', async () => {
    healthy();
    await sendRaw(p, [{ data: 'not json', partitionKey: 'bad-1' }]);
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const r = await run();
    expect(check(r, 'dead-letters')).toMatchObject({ status: 'warn' });
    expect(check(r, 'dead-letters').evidence).toMatch(
      /^1 record in 1 object under s3:\/\/.*\/dead-letters\/$/,
    );
  });

  it('fails and warns on drift, an unreadable metric, lag, errors and a queue with failed batches', async () => {
    healthy();
    lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [
        mapping({
          MaximumRetryAttempts: 2, // configured -1 (the no-loss default): drift
          BisectBatchOnFunctionError: false,
          BatchSize: 100,
          FunctionResponseTypes: [],
        }),
        // A mapping from another stream is not the aggregator's input mapping.
        mapping({
          EventSourceArn: 'arn:aws:kinesis:ap-southeast-2:123456789012:stream/other',
          State: 'Disabled',
        }),
      ],
    });
    firehose
      .on(DescribeDeliveryStreamCommand, { DeliveryStreamName: p.config.firehose.analytics.name })
      .resolves({
        DeliveryStreamDescription: {
          DeliveryStreamName: 'x',
          DeliveryStreamARN: 'arn',
          DeliveryStreamStatus: 'ACTIVE',
          FailureDescription: { Type: 'KMS_ACCESS_DENIED', Details: 'role cannot use the key' },
          DeliveryStreamType: 'KinesisStreamAsSource',
          VersionId: '1',
          Destinations: [],
          HasMoreDestinations: false,
        },
      });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '4' } });
    cw.on(GetMetricDataCommand).resolves(
      metrics({
        streamAge: [900_000],
        fnAge: [120_000],
        aggErrors: [3, 2],
        aggInvocations: [5],
        prodErrors: [0],
        prodThrottles: [2],
        prodInvocations: [1],
      }),
    );
    eb.on(DescribeRuleCommand).resolves({
      Name: 'r',
      State: 'DISABLED',
      ScheduleExpression: 'rate(5 minutes)',
    });
    const r = await run({ env: 'prod' });
    expect(statuses(r)).toMatchObject({
      'esm.state': 'pass',
      'esm.retries': 'warn',
      'esm.bisect': 'fail',
      'esm.partial-batch': 'fail',
      'esm.batch-size': 'warn',
      'firehose.raw': 'pass',
      'firehose.analytics': 'fail',
      failures: 'warn',
      'lag.stream': 'fail',
      'lag.aggregator': 'warn',
      'errors.aggregator': 'fail',
      'errors.producer': 'warn',
      schedule: 'warn',
    });
    expect(check(r, 'failures').evidence).toBe(
      'SQS paypipe-dev-aggregator-failures: 4 failed batches waiting',
    );
    expect(check(r, 'firehose.analytics').evidence).toContain('KMS_ACCESS_DENIED: role cannot use the key');
    expect(r.checks.some((c) => c.id === 'esm.count')).toBe(false);
    // The fixes are for this environment.
    expect(check(r, 'schedule').fix).toContain('`paypipe schedule --enable --env prod`');
    expect(check(r, 'esm.retries').fix).toContain('`paypipe deploy --env prod`');
    expect(r.ok).toBe(false);

    healthy();
    cw.on(GetMetricDataCommand).rejects(
      Object.assign(new Error('not allowed'), { name: 'AccessDeniedException' }),
    );
    const denied = await run();
    for (const id of ['lag.stream', 'lag.aggregator', 'errors.aggregator', 'errors.producer']) {
      expect(check(denied, id)).toMatchObject({
        status: 'warn',
        evidence: 'could not check: AccessDeniedException: not allowed',
        fix: 'grant cloudwatch:GetMetricData to the identity running doctor',
      });
    }
    expect(denied.ok).toBe(true);
  });

  it("the schedule's count comes from the producer target's input, matched by function name", async () => {
    healthy();
    const fn = `arn:aws:lambda:ap-southeast-2:123456789012:function:${p.config.producer.functionName}`;
    eb.on(ListTargetsByRuleCommand).resolves({
      Targets: [
        // Another function whose name starts like the producer's is not the producer.
        { Id: 'a', Arn: `${fn}-old`, Input: '{"count":7}' },
        { Id: 'b', Arn: `${fn}:live`, Input: '{"count":500}' },
      ],
    });
    expect(check(await run(), 'schedule').evidence).toContain('ENABLED, rate(1 minute), 500 events per run');
    // No count in the input: the producer's own default.
    eb.on(ListTargetsByRuleCommand).resolves({ Targets: [{ Id: 'b', Arn: fn, Input: '{"other":1}' }] });
    expect(check(await run(), 'schedule').evidence).toContain('100 events per run');
  });

  it('reads every page of metrics and mappings (the SDK paginators)', async () => {
    healthy();
    cw.on(GetMetricDataCommand)
      .resolvesOnce({ ...metrics({ aggInvocations: [12], aggErrors: [1] }), NextToken: 'p2' })
      .resolves(metrics({ aggInvocations: [15], aggErrors: [0] }));
    lambda
      .on(ListEventSourceMappingsCommand)
      .resolvesOnce({ EventSourceMappings: [], NextMarker: 'm2' })
      .resolves({ EventSourceMappings: [mapping()] });
    const r = await run();
    expect(check(r, 'errors.aggregator').evidence).toContain('27 invocations, 1 error');
    expect(check(r, 'esm.state').status).toBe('pass');
    expect(healthQueries()).toHaveLength(2);
    expect(lambda.commandCalls(ListEventSourceMappingsCommand)).toHaveLength(2);
  });

  it('stops after the preflight when there are no credentials or no stack', async () => {
    healthy();
    sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
    );
    const noCreds = await run();
    expect(noCreds.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'fail'],
      ['region', 'pass'],
    ]);
    expect(check(noCreds, 'credentials').evidence).toContain('Could not load credentials');
    expect(check(noCreds, 'credentials').fix).toContain('configure credentials');

    healthy();
    sts
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    const offline = await run();
    expect(check(offline, 'credentials').fix).toMatch(/^the AWS endpoint could not be reached/);

    healthy();
    cfn
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error('Stack with id paypipe-prod does not exist'), { name: 'ValidationError' }),
      );
    const noStack = await run({ env: 'prod', region: 'eu-west-1' });
    expect(noStack.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'pass'],
      ['region', 'pass'],
      ['stack', 'fail'],
    ]);
    expect(check(noStack, 'region').evidence).toBe('eu-west-1 (--region)');
    expect(check(noStack, 'stack').evidence).toBe('stack paypipe-prod not found');
    expect(check(noStack, 'stack').fix).toContain('`paypipe deploy --env prod --region eu-west-1`');

    healthy();
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDenied' }));
    const unreadable = await run();
    expect(unreadable.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'pass'],
      ['region', 'pass'],
      ['stack', 'fail'],
    ]);
    expect(check(unreadable, 'stack').evidence).toBe(
      'CloudFormation DescribeStacks for paypipe-dev in ap-southeast-2 failed: AccessDenied: no',
    );

    healthy();
    cfn.on(DescribeStacksCommand).resolves(stack({ StackStatus: 'CREATE_IN_PROGRESS', Outputs: [] }));
    const midDeploy = await run();
    expect(midDeploy.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'pass'],
      ['region', 'pass'],
      ['stack', 'warn'],
      ['stack.outputs', 'fail'],
      ['stack.version', 'warn'],
    ]);
    expect(check(midDeploy, 'stack.outputs').evidence).toContain('lacks the outputs InputStreamName');
  });

  it('a stack lacking some outputs (another version, or Firehose left out) is checked for the rest', async () => {
    healthy();
    const { RawDeliveryStreamName: _r, AnalyticsDeliveryStreamName: _a, ...rest } = outputs();
    cfn.on(DescribeStacksCommand).resolves(
      stack({
        Outputs: Object.entries({ ...rest, PaypipeVersion: '0.0.1-old' }).map(([OutputKey, OutputValue]) => ({
          OutputKey,
          OutputValue,
        })),
      }),
    );
    const r = await run();
    const s = statuses(r);
    expect(s['stack.outputs']).toBe('fail');
    expect(check(r, 'stack.outputs').evidence).toContain(
      'lacks the outputs RawDeliveryStreamName, AnalyticsDeliveryStreamName',
    );
    expect(s['stack.version']).toBe('warn');
    expect(check(r, 'stack.version').evidence).toBe(
      `deployed by paypipe 0.0.1-old; this CLI is ${paypipeVersion()}`,
    );
    // The old doctor stopped at the missing outputs; the streams are still checked.
    expect(s['stream.input']).toBe('pass');
    expect(s['esm.state']).toBe('pass');
  });
});

describe('alarms and the last hour of metrics (recorded CloudWatch responses)', () => {
  /** GetMetricData as CloudWatch answers the hour query: per-minute points, newest first. */
  const recordedHour = (input: GetMetricDataCommandInput) => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const at = (ago: number) => new Date(minute - ago * 60_000);
    const series: Record<string, Array<[number, number]>> = {
      // 103,200 records in the busiest minute: 1,720/s, 86% of 2 shards' 2,000/s.
      recordsIn: [
        [1, 30_000],
        [2, 103_200],
        [3, 60_000],
      ],
      bytesIn: [
        [1, 3_600_000],
        [2, 12_384_000],
        [3, 7_200_000],
      ],
      aggregatesOut: [[1, 40]],
      rejected: [[1, 52]],
      lagMs: [
        [1, 4_000],
        [2, 95_000],
      ],
    };
    const reasons = new Map([
      ['not_json', 40],
      ['unknown_currency', 12],
    ]);
    return {
      MetricDataResults: (input.MetricDataQueries ?? []).map((q) => {
        const reason = q.MetricStat?.Metric?.Dimensions?.find((d) => d.Name === 'reason')?.Value;
        const points: Array<[number, number]> =
          reason !== undefined
            ? reasons.has(reason)
              ? [[1, reasons.get(reason) as number]]
              : []
            : (series[q.Id ?? ''] ?? []);
        return {
          Id: q.Id,
          StatusCode: 'Complete' as const,
          Timestamps: points.map(([ago]) => at(ago)),
          Values: points.map(([, v]) => v),
        };
      }),
    };
  };

  it("alarm states, throughput against 2 shards with the advice, the hour's lag and rejects by reason", async () => {
    healthy();
    const health = metrics({ streamAge: [800], fnAge: [1200], aggInvocations: [10], prodInvocations: [1] });
    cw.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) =>
      input.MetricDataQueries?.some((q) => q.Id === 'recordsIn') ? recordedHour(input) : health,
    );
    cw.on(DescribeAlarmsCommand).resolves(recordedAlarms({ rejects: 'ALARM' }));
    const r = await run({ env: 'dev' });
    expect(check(r, 'alarms')).toMatchObject({
      status: 'fail',
      evidence: '1 alarm in ALARM: paypipe-dev-rejects',
      fix: 'next: `paypipe dead-letters`',
    });
    expect(check(r, 'throughput')).toMatchObject({
      status: 'warn',
      evidence: expect.stringContaining("input at 86% of 2 shards' write limit"),
      fix: '`paypipe scale --shards 4` or on-demand mode: `paypipe scale --on-demand`',
    });
    expect(check(r, 'lag.hour')).toMatchObject({
      status: 'pass',
      evidence: 'max 1 min 35 s over the last hour, latest 4 s',
    });
    expect(check(r, 'rejects').evidence).toContain('52 records rejected in the last hour');
    expect(check(r, 'rejects').evidence).toContain('not_json 40, unknown_currency 12');
    // What was asked: the input stream's own metrics and the alarms of this stack only.
    const hour = cw
      .commandCalls(GetMetricDataCommand)
      .map((c) => c.args[0].input as GetMetricDataCommandInput)
      .find((i) => i.MetricDataQueries?.some((q) => q.Id === 'recordsIn'));
    expect(hour?.MetricDataQueries?.find((q) => q.Id === 'recordsIn')?.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'AWS/Kinesis',
        MetricName: 'IncomingRecords',
        Dimensions: [{ Name: 'StreamName', Value: p.config.streams.input.name }],
      },
      Stat: 'Sum',
      Period: 60,
    });
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNamePrefix: 'paypipe-dev-',
    });
  });

  it('an alarm the configuration defines but the stack lacks warns with the deploy to run', async () => {
    healthy();
    const recorded = recordedAlarms();
    cw.on(DescribeAlarmsCommand).resolves({ ...recorded, MetricAlarms: recorded.MetricAlarms.slice(1) });
    const c = check(await run(), 'alarms');
    expect(c.status).toBe('warn');
    expect(c.evidence).toContain(`not deployed: ${alarmDefinitions(p.config)[0]?.name}`);
    expect(c.fix).toContain('`paypipe deploy`');
  });

  it('without cloudwatch:DescribeAlarms the alarms check says what to grant', async () => {
    healthy();
    cw.on(DescribeAlarmsCommand).rejects(
      Object.assign(new Error('not authorized to perform: cloudwatch:DescribeAlarms'), {
        name: 'AccessDenied',
      }),
    );
    const c = check(await run(), 'alarms');
    expect(c.status).toBe('warn');
    expect(c.fix).toContain('cloudwatch:DescribeAlarms');
  });
});

describe('the region', () => {
  it('an empty AWS_REGION is unset, as for the SDK and the AWS CLI: AWS_DEFAULT_REGION is used, and called', async () => {
    healthy();
    const r = await run({}, { AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1' });
    expect(check(r, 'region')).toMatchObject({ status: 'pass', evidence: 'us-east-1 (AWS_DEFAULT_REGION)' });
    const client = sts.commandCalls(GetCallerIdentityCommand)[0]?.thisValue as STSClient;
    expect(await client.config.region()).toBe('us-east-1');
  });

  it.each([
    // The one resolver's words, shown as the failed region check.
    [{ region: '   ' }, {}, '--region "   " is not an AWS region name'],
    [{}, { AWS_REGION: ' \t' }, 'AWS_REGION " \\u0009" is not an AWS region name'],
    [{}, { AWS_DEFAULT_REGION: '\u00a0' }, 'AWS_DEFAULT_REGION "\u00a0" is not an AWS region name'],
    [{ region: 'Sydney' }, {}, '--region "Sydney" is not an AWS region name'],
  ] as Array<[TargetFlags, NodeJS.ProcessEnv, string]>)(
    'a blank or malformed region fails, and nothing is called with it (%j %j)',
    async (flags, env, evidence) => {
      healthy();
      const r = await run(flags, env);
      expect(r.checks.map((c) => [c.id, c.status])).toEqual([['region', 'fail']]);
      expect(check(r, 'region').evidence).toContain(evidence);
      expect(r.ok).toBe(false);
      expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(0);
    },
  );
});
