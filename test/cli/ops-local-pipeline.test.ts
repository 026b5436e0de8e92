/**
 * doctor, --probe, schedule and logs against ONE real local pipeline (kinesalite + s3rver + the real
 * handlers), in order: healthy → bad records and a failed batch → probe → a hung aggregator (lag,
 * freshness and the probe fail where they should) → the local scheduler → the built CLI. The AWS
 * doctor runs last with its control plane faked (STS, CloudFormation, Lambda, Firehose, SQS,
 * CloudWatch, EventBridge) and its data plane (Kinesis, S3) on the same local servers.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import { DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { awsOnlyClients } from '../../src/aws/clients.js';
import { awsDoctor, type DoctorOptions } from '../../src/cli/doctor/facts-aws.js';
import { localDoctor } from '../../src/cli/doctor/facts-local.js';
import { localSchedule } from '../../src/cli/schedule/schedule.js';
import type { CheckStatus, DoctorReport } from '../../src/cli/doctor/checks.js';
import type { AggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import { appendFailedBatch } from '../../src/local/failed-batches.js';
import { readLocalSchedule } from '../../src/local/schedule.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/local-pipeline.js';
import { type BuiltCli, buildCli, runCli } from '../helpers/build-cli.js';
import { waitFor } from '../helpers/ops.js';

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
const opts = (o: Partial<DoctorOptions> = {}): DoctorOptions => ({
  probe: false,
  timeoutMs: 20_000,
  pollMs: 100,
  ...o,
});
const flags = () => ({ local: true, dataDir: p.dataDir });

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

describe('doctor --local', () => {
  it('passes a healthy pipeline and says n/a, not pass, where a check has no local meaning', async () => {
    await sendEvents(p, makeEvents(40, { startMs: Date.now() - 60_000, spanMs: 60_000, prefix: 'OK' }));
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    const r = await localDoctor(flags(), opts());
    const s = statuses(r);
    const na = Object.keys(s).filter((k) => s[k] === 'n/a');
    expect(na.sort()).toEqual(['credentials', 'esm.settings', 'lag.stream', 'region', 'stack']);
    // The test pipeline runs without a schedule: the one warning, said as such.
    expect(s.schedule).toBe('warn');
    expect(check(r, 'schedule').evidence).toContain('DISABLED');
    const others = Object.entries(s).filter(([k, v]) => v !== 'n/a' && k !== 'schedule');
    expect(others.filter(([, v]) => v !== 'pass')).toEqual([]);
    expect(check(r, 'stream.input').evidence).toContain('2 open shards');
    expect(check(r, 'esm.state').evidence).toContain('40 records read');
    expect(r.ok).toBe(true);
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
    const r = await localDoctor(flags(), opts());
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
    const r = await localDoctor(flags(), opts({ probe: true }));
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
    // The newest aggregate (the probe's) gets older than the 1 s limits used below.
    await sleep(1100);
    const rawBefore = p.status().rawEventsDelivered;
    closeGate();
    try {
      await sendEvents(p, makeEvents(8, { startMs: Date.now() - 1000, spanMs: 1000, prefix: 'HANG' }));
      // Raw delivery does not go through the aggregator: the raw copy lands, newer than any aggregate.
      await waitFor(() => p.status().rawEventsDelivered >= rawBefore + 8, 'the raw copy of the events');
      await sleep(1100);
      const r = await localDoctor(
        flags(),
        opts({ maxLagMs: 1000, staleAfterMs: 1000, probe: true, timeoutMs: 4000 }),
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
    const after = await localDoctor(flags(), opts({ maxLagMs: 60_000 }));
    expect(check(after, 'lag.aggregator').status).toBe('pass');
  });
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
    const until = Date.now() + 15_000;
    while (p.status().producer.eventsSent < sentBefore + 7 && Date.now() < until) await sleep(50);
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

describe('doctor on AWS (control plane faked, Kinesis and S3 on the local servers)', () => {
  const sts = mockClient(STSClient);
  const cfn = mockClient(CloudFormationClient);
  const lambda = mockClient(LambdaClient);
  const firehose = mockClient(FirehoseClient);
  const sqs = mockClient(SQSClient);
  const cw = mockClient(CloudWatchClient);
  const eb = mockClient(EventBridgeClient);
  afterAll(() => {
    for (const m of [sts, cfn, lambda, firehose, sqs, cw, eb]) m.restore();
    vi.unstubAllEnvs();
  });

  const outputs = () => {
    const c = p.config;
    return {
      InputStreamName: c.streams.input.name,
      OutputStreamName: c.streams.output.name,
      RawBucketName: c.buckets.raw,
      AnalyticsBucketName: c.buckets.analytics,
      ProducerFunctionName: c.producer.functionName,
      AggregatorFunctionName: c.aggregator.functionName,
      FailureQueueUrl:
        'https://sqs.ap-southeast-2.amazonaws.com/123456789012/paypipe-dev-aggregator-failures',
      RawDeliveryStreamName: c.firehose.raw.name,
      AnalyticsDeliveryStreamName: c.firehose.analytics.name,
      ProducerScheduleRuleName: 'paypipe-dev-ProducerSchedule',
      Region: 'ap-southeast-2',
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
  const healthy = () => {
    for (const m of [sts, cfn, lambda, firehose, sqs, cw, eb]) m.reset();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_REGION', 'ap-southeast-2');
    sts
      .on(GetCallerIdentityCommand)
      .resolves({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/ops' });
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: Object.entries(outputs()).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
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
    eb.on(DescribeRuleCommand).resolves({
      Name: 'paypipe-dev-ProducerSchedule',
      State: 'ENABLED',
      ScheduleExpression: 'rate(1 minute)',
    });
    eb.on(ListTargetsByRuleCommand).resolves({
      Targets: [
        {
          Id: 'Target0',
          Arn: `arn:aws:lambda:ap-southeast-2:123456789012:function:${p.config.producer.functionName}`,
        },
      ],
    });
  };
  const run = async (o: Partial<DoctorOptions> = {}, f: Record<string, string> = {}) => {
    const clients = await awsOnlyClients({ kind: 'aws', region: 'ap-southeast-2' });
    return awsDoctor(f, opts(o), { clients, kinesis: p.kinesis, s3: p.s3 });
  };

  it('passes a deployed stack whose mapping matches the configuration', async () => {
    await sendEvents(p, makeEvents(12, { startMs: Date.now() - 30_000, spanMs: 30_000, prefix: 'AWS' }));
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    healthy();
    const r = await run();
    const s = statuses(r);
    expect(Object.keys(s)).toEqual([
      'credentials',
      'region',
      'stack',
      'stream.input',
      'stream.output',
      'firehose.raw',
      'firehose.analytics',
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
    ]);
    // The dead letters sent earlier are still in the last hour: the only warning.
    expect(Object.entries(s).filter(([, v]) => v !== 'pass')).toEqual([['dead-letters', 'warn']]);
    expect(check(r, 'credentials').evidence).toBe(
      'arn:aws:iam::123456789012:user/ops (account 123456789012)',
    );
    expect(check(r, 'region').evidence).toBe('ap-southeast-2 (AWS_REGION)');
    // The newest datapoint, not the largest: 800 ms now, 30 s a minute ago.
    expect(check(r, 'lag.stream').evidence).toBe('GetRecords.IteratorAgeMilliseconds (latest minute) 800 ms');
    expect(check(r, 'errors.aggregator').evidence).toContain('27 invocations, 0 errors, 0 throttles');
    expect(check(r, 'schedule').evidence).toContain('ENABLED, rate(1 minute), 100 events per run');
    expect(r.subject).toBe('stack paypipe-dev in ap-southeast-2');
    const q = cw.commandCalls(GetMetricDataCommand)[0]?.args[0].input as GetMetricDataCommandInput;
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
  });

  it('fails and warns on drift, an unreadable metric, lag, errors and a queue with failed batches', async () => {
    healthy();
    lambda.on(ListEventSourceMappingsCommand).resolves({
      EventSourceMappings: [
        mapping({
          // Changed by hand: bounded retries where the configuration retries until records expire.
          MaximumRetryAttempts: 2,
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
    const r = await run();
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

    healthy();
    cfn
      .on(DescribeStacksCommand)
      .rejects(
        Object.assign(new Error('Stack with id paypipe-prod does not exist'), { name: 'ValidationError' }),
      );
    const noStack = await run({}, { env: 'prod', region: 'eu-west-1' });
    expect(noStack.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'pass'],
      ['region', 'pass'],
      ['stack', 'fail'],
    ]);
    expect(check(noStack, 'region').evidence).toBe('eu-west-1 (--region)');
    expect(check(noStack, 'stack').evidence).toBe('stack paypipe-prod not found');

    healthy();
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'CREATE_IN_PROGRESS',
          CreationTime: new Date(),
          Outputs: [],
        },
      ],
    });
    const midDeploy = await run();
    expect(midDeploy.checks.map((c) => [c.id, c.status])).toEqual([
      ['credentials', 'pass'],
      ['region', 'pass'],
      ['stack', 'warn'],
      ['stack.outputs', 'fail'],
    ]);
    expect(check(midDeploy, 'stack.outputs').evidence).toContain('lacks the outputs InputStreamName');
  });
});
