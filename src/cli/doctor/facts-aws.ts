/**
 * `paypipe doctor` against a deployed stack: credentials and region, the stack, streams and
 * delivery streams, the aggregator's event source mapping linted against the configuration, the
 * failure queue and dead letters, consumer lag and function errors (CloudWatch), freshness of both
 * buckets, the producer schedule, and optionally the canary probe.
 *
 * Gathering runs in parallel; each check's gathering is guarded, so one missing permission costs
 * one check, not the report.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { awsOnlyClients } from '../../aws/clients.js';
import { LAMBDA_ENV, type PipelineConfig } from '../../pipeline/config.js';
import { loadEnvironment } from '../configuration.js';
import {
  buildReport,
  type CheckResult,
  checkCredentials,
  checkDeadLetters,
  checkDeliveryStream,
  checkFailureQueue,
  checkFunctionErrors,
  checkLag,
  checkRegion,
  checkSchedule,
  checkStack,
  checkStream,
  type DoctorReport,
  type EventSourceMappingFacts,
  fail,
  freshnessLimitMs,
  lagThresholds,
  lintEventSourceMapping,
  type ScheduleFact,
} from './checks.js';
import { isPaypipeError } from '../../errors.js';
import type { TargetFlags } from '../options.js';
import { type ResolvedTarget, resolveTarget } from '../target.js';
import { deadLetterFacts, errLine, errName, freshnessChecks, guard, streamFact } from './facts.js';
import { type ProbeResult, runProbe } from './probe.js';

export type AwsClients = Awaited<ReturnType<typeof awsOnlyClients>>;
export type AwsTarget = Extract<ResolvedTarget, { kind: 'aws' }>;

export interface DoctorOptions {
  probe: boolean;
  /** Probe timeout. */
  timeoutMs: number;
  /** Lag above this fails (default: 5 windows, at least 5 minutes). */
  maxLagMs?: number | undefined;
  /** Newest object older than this is stale (default: from schedule, buffer and batching window). */
  staleAfterMs?: number | undefined;
  /** Probe poll interval. */
  pollMs?: number | undefined;
  progress?: ((message: string) => void) | undefined;
  debug?: ((message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface AwsDoctorDeps {
  clients: AwsClients;
  /** Built from the target unless given (tests point them at the local servers). */
  kinesis?: KinesisClient;
  s3?: S3Client;
  now?: () => number;
  env?: NodeJS.ProcessEnv;
  /** Resolves names from the stack outputs (default: resolveTarget). */
  resolve?: (flags: TargetFlags) => Promise<ResolvedTarget>;
}

const PERIOD = 'the last 15 minutes';
const WINDOW_MS = 15 * 60_000;

/**
 * The environment's configuration (paypipe.config.json + flags) and its region with where it came
 * from, as every command resolves them (src/cli/configuration.ts, src/aws/settings.ts).
 */
export function doctorConfig(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv,
): { config: PipelineConfig; region: string; source: string } {
  const { loaded, aws } = loadEnvironment(flags, env);
  return { config: loaded.config, region: aws.region, source: aws.regionSource };
}

/** Credentials, region and the stack: the checks everything else depends on. */
export async function awsPreflight(
  flags: TargetFlags,
  deps: AwsDoctorDeps,
): Promise<{ checks: CheckResult[]; proceed: boolean; subject: string }> {
  const env = deps.env ?? process.env;
  const { config, region, source } = doctorConfig(flags, env);
  const stackName = flags.stack ?? config.stackName;
  const subject = `stack ${stackName} in ${region}`;
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
  let identity: CheckResult;
  try {
    const id = await (await deps.clients.sts()).send(new GetCallerIdentityCommand({}));
    identity = checkCredentials({ ok: true, account: id.Account ?? '?', arn: id.Arn ?? '?' });
  } catch (e) {
    identity = checkCredentials({ ok: false, error: errLine(e) });
  }
  const checks = [identity, checkRegion(region, source)];
  if (identity.status === 'fail') return { checks, proceed: false, subject };

  const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  try {
    const res = await (await deps.clients.cloudFormation()).send(
      new DescribeStacksCommand({ StackName: stackName }),
    );
    const s = res.Stacks?.[0];
    const status = s?.StackStatus === 'DELETE_COMPLETE' ? undefined : s?.StackStatus;
    const stack = checkStack(stackName, status, s?.StackStatusReason);
    checks.push(stack);
    return { checks, proceed: status !== undefined, subject };
  } catch (e) {
    if (errName(e) === 'ValidationError' && /does not exist/.test(String((e as Error).message))) {
      checks.push(checkStack(stackName, undefined));
    } else {
      checks.push(
        fail(
          'stack',
          'Stack deployed',
          `DescribeStacks failed: ${errLine(e)}`,
          'check cloudformation:DescribeStacks',
        ),
      );
    }
    return { checks, proceed: false, subject };
  }
}

async function metricFacts(t: AwsTarget, clients: AwsClients, nowMs: number) {
  const { GetMetricDataCommand } = await import('@aws-sdk/client-cloudwatch');
  const cw = await clients.cloudWatch();
  const q = (id: string, ns: string, metric: string, dim: [string, string], stat: string) => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: ns, MetricName: metric, Dimensions: [{ Name: dim[0], Value: dim[1] }] },
      Period: 60,
      Stat: stat,
    },
    ReturnData: true,
  });
  const agg: [string, string] = ['FunctionName', t.names.aggregatorFunction];
  const prod: [string, string] = ['FunctionName', t.names.producerFunction];
  const queries = [
    q(
      'streamAge',
      'AWS/Kinesis',
      'GetRecords.IteratorAgeMilliseconds',
      ['StreamName', t.names.inputStream],
      'Maximum',
    ),
    q('fnAge', 'AWS/Lambda', 'IteratorAge', agg, 'Maximum'),
    q('aggErrors', 'AWS/Lambda', 'Errors', agg, 'Sum'),
    q('aggThrottles', 'AWS/Lambda', 'Throttles', agg, 'Sum'),
    q('aggInvocations', 'AWS/Lambda', 'Invocations', agg, 'Sum'),
    q('prodErrors', 'AWS/Lambda', 'Errors', prod, 'Sum'),
    q('prodThrottles', 'AWS/Lambda', 'Throttles', prod, 'Sum'),
    q('prodInvocations', 'AWS/Lambda', 'Invocations', prod, 'Sum'),
  ];
  const series = new Map<string, Array<{ t: number; v: number }>>();
  let token: string | undefined;
  do {
    const res = await cw.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(nowMs - WINDOW_MS),
        EndTime: new Date(nowMs),
        NextToken: token,
      }),
    );
    for (const r of res.MetricDataResults ?? []) {
      const points = series.get(r.Id ?? '') ?? [];
      (r.Values ?? []).forEach((v, i) => {
        points.push({ t: r.Timestamps?.[i]?.getTime() ?? 0, v });
      });
      series.set(r.Id ?? '', points);
    }
    token = res.NextToken;
  } while (token !== undefined);
  const latest = (id: string): number | undefined => {
    const p = series.get(id) ?? [];
    if (p.length === 0) return undefined;
    return p.reduce((a, b) => (b.t > a.t ? b : a)).v;
  };
  const sum = (id: string): number => (series.get(id) ?? []).reduce((a, b) => a + b.v, 0);
  return { latest, sum };
}

async function scheduleFact(t: AwsTarget, clients: AwsClients): Promise<ScheduleFact> {
  const rule = t.names.scheduleRule;
  if (rule === undefined) return { name: '(no ProducerScheduleRuleName output)' };
  const { DescribeRuleCommand, ListTargetsByRuleCommand } = await import('@aws-sdk/client-eventbridge');
  const eb = await clients.eventBridge();
  try {
    const r = await eb.send(new DescribeRuleCommand({ Name: rule }));
    const targets = await eb.send(new ListTargetsByRuleCommand({ Rule: rule }));
    const input = targets.Targets?.find((x) =>
      x.Arn?.includes(`:function:${t.names.producerFunction}`),
    )?.Input;
    return {
      name: rule,
      enabled: r.State === 'ENABLED',
      expression: r.ScheduleExpression,
      count: countFromInput(input),
    };
  } catch (e) {
    if (errName(e) === 'ResourceNotFoundException') return { name: rule };
    throw e;
  }
}

/** The producer's `count` from a target's constant Input (`{"count": N}`), if any. */
export function countFromInput(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  try {
    const c = (JSON.parse(input) as { count?: unknown }).count;
    return typeof c === 'number' ? c : undefined;
  } catch {
    return undefined;
  }
}

/** Everything after the preflight, against resolved names. */
export async function awsResourceChecks(
  t: AwsTarget,
  o: DoctorOptions,
  deps: AwsDoctorDeps & { kinesis: KinesisClient; s3: S3Client },
): Promise<{ checks: CheckResult[]; probe?: ProbeResult }> {
  const now = deps.now ?? Date.now;
  const nowMs = now();
  const { clients, kinesis, s3 } = deps;
  const c = t.config;
  const n = t.names;
  const lag = lagThresholds(c, o.maxLagMs);

  const streams = Promise.all([
    guard('stream.input', 'Kinesis input stream', async () =>
      checkStream('input', await streamFact(kinesis, n.inputStream), c.streams.input),
    ),
    guard('stream.output', 'Kinesis output stream', async () =>
      checkStream('output', await streamFact(kinesis, n.outputStream), c.streams.output),
    ),
  ]);

  const firehose = Promise.all(
    (['raw', 'analytics'] as const).map((role) =>
      guard(
        `firehose.${role}`,
        `Firehose ${role} delivery stream`,
        async () => {
          const name = role === 'raw' ? n.rawDeliveryStream : n.analyticsDeliveryStream;
          const { DescribeDeliveryStreamCommand } = await import('@aws-sdk/client-firehose');
          try {
            const d = (
              await (
                await clients.firehose()
              ).send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: name }))
            ).DeliveryStreamDescription;
            const f = d?.FailureDescription;
            return checkDeliveryStream(role, {
              name,
              status: d?.DeliveryStreamStatus,
              failure: f === undefined ? undefined : `${f.Type}: ${f.Details}`,
            });
          } catch (e) {
            if (errName(e) === 'ResourceNotFoundException') return checkDeliveryStream(role, { name });
            throw e;
          }
        },
        'firehose:DescribeDeliveryStream',
      ),
    ),
  );

  const esm = guard(
    'esm.state',
    'Event source mapping state',
    async () => {
      const { ListEventSourceMappingsCommand } = await import('@aws-sdk/client-lambda');
      const lambda = await clients.lambda();
      const found: EventSourceMappingFacts[] = [];
      let marker: string | undefined;
      do {
        const page = await lambda.send(
          new ListEventSourceMappingsCommand({ FunctionName: n.aggregatorFunction, Marker: marker }),
        );
        for (const m of page.EventSourceMappings ?? []) {
          if (m.EventSourceArn?.endsWith(`:stream/${n.inputStream}`) === true) found.push(m);
        }
        marker = page.NextMarker;
      } while (marker !== undefined);
      return lintEventSourceMapping(found, c.aggregator, n.aggregatorFunction);
    },
    'lambda:ListEventSourceMappings',
  );

  const failures = guard(
    'failures',
    'Failed-batch queue',
    async () => {
      if (n.failureQueueUrl === undefined)
        return checkFailureQueue(undefined, 'the failure queue (no FailureQueueUrl output)');
      const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
      const a = await (await clients.sqs()).send(
        new GetQueueAttributesCommand({
          QueueUrl: n.failureQueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      const depth = Number(a.Attributes?.ApproximateNumberOfMessages ?? Number.NaN);
      const name = n.failureQueueUrl.split('/').at(-1) ?? n.failureQueueUrl;
      return checkFailureQueue(Number.isFinite(depth) ? depth : undefined, `SQS ${name}`);
    },
    'sqs:GetQueueAttributes',
  );

  const deadLetters = guard(
    'dead-letters',
    'Dead-lettered records (last hour)',
    async () => {
      const f = await deadLetterFacts(s3, n.analyticsBucket, c.aggregator.deadLetterPrefix, nowMs);
      return checkDeadLetters(
        f.objects,
        f.records,
        `s3://${n.analyticsBucket}/${c.aggregator.deadLetterPrefix}`,
      );
    },
    's3:ListBucket and s3:GetObject on the analytics bucket',
  );

  const metricChecks: Array<[string, string]> = [
    ['lag.stream', 'Input stream iterator age'],
    ['lag.aggregator', 'Aggregator iterator age'],
    ['errors.aggregator', 'Aggregator errors and throttles'],
    ['errors.producer', 'Producer errors and throttles'],
  ];
  const metrics = guard(
    'lag.stream',
    'Input stream iterator age',
    async () => {
      const m = await metricFacts(t, clients, nowMs);
      return [
        checkLag(
          'lag.stream',
          'Input stream iterator age',
          m.latest('streamAge'),
          lag,
          'GetRecords.IteratorAgeMilliseconds (latest minute)',
        ),
        checkLag(
          'lag.aggregator',
          'Aggregator iterator age',
          m.latest('fnAge'),
          lag,
          'IteratorAge (latest minute)',
        ),
        checkFunctionErrors(
          'aggregator',
          n.aggregatorFunction,
          {
            invocations: m.sum('aggInvocations'),
            errors: m.sum('aggErrors'),
            throttles: m.sum('aggThrottles'),
          },
          PERIOD,
        ),
        checkFunctionErrors(
          'producer',
          n.producerFunction,
          {
            invocations: m.sum('prodInvocations'),
            errors: m.sum('prodErrors'),
            throttles: m.sum('prodThrottles'),
          },
          PERIOD,
        ),
      ];
    },
    'cloudwatch:GetMetricData',
  ).then((r) =>
    // One GetMetricData call feeds four checks: when it fails, each of them says so.
    r.length === 1 && r[0] !== undefined
      ? metricChecks.map(([id, title]) => ({ ...(r[0] as CheckResult), id, title }))
      : r,
  );

  // Read once: the schedule check reports it, freshness needs its period and state.
  const schedule: Promise<ScheduleFact | Error> = scheduleFact(t, clients).catch((e: unknown) =>
    e instanceof Error ? e : new Error(String(e)),
  );
  const scheduleCheck = guard(
    'schedule',
    'Producer schedule',
    async () => {
      const fact = await schedule;
      if (fact instanceof Error) throw fact;
      if (fact.enabled !== undefined && fact.count === undefined)
        fact.count = await producerDefaultCount(t, clients);
      return checkSchedule(fact, c);
    },
    'events:DescribeRule and events:ListTargetsByRule',
  );

  const freshness = (async (): Promise<CheckResult[]> => {
    const f = await schedule;
    const fact = f instanceof Error ? undefined : f;
    const limit = o.staleAfterMs ?? freshnessLimitMs(c, fact?.expression);
    const enabled = fact?.enabled;
    return freshnessChecks(
      s3,
      { raw: n.rawBucket, analytics: n.analyticsBucket },
      nowMs,
      limit,
      enabled,
      (b, pre) => `s3://${b}/${pre}`,
    );
  })();

  const [s, fh, e, fq, dl, m, fr, sc] = await Promise.all([
    streams,
    firehose,
    esm,
    failures,
    deadLetters,
    metrics,
    freshness,
    scheduleCheck,
  ]);
  const checks = [...s.flat(), ...fh.flat(), ...e, ...fq, ...dl, ...m, ...fr, ...sc];
  if (!o.probe) return { checks };
  o.progress?.('probe: sending a canary event');
  const probe = await runProbe({
    kinesis,
    s3,
    names: n,
    config: c,
    timeoutMs: o.timeoutMs,
    pollMs: o.pollMs ?? 5000,
    now,
    signal: o.signal,
    progress: o.progress,
    debug: o.debug,
  });
  return { checks: [...checks, probe.check], probe };
}

/** The producer's own default (EVENTS_PER_INVOCATION) when the rule passes no count. */
export async function producerDefaultCount(t: AwsTarget, clients: AwsClients): Promise<number | undefined> {
  try {
    const { GetFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
    const f = await (await clients.lambda()).send(
      new GetFunctionConfigurationCommand({ FunctionName: t.names.producerFunction }),
    );
    const v = Number(f.Environment?.Variables?.[LAMBDA_ENV.eventsPerInvocation]);
    return Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

export async function awsDoctor(
  flags: TargetFlags,
  o: DoctorOptions,
  deps: AwsDoctorDeps,
): Promise<DoctorReport> {
  o.progress?.('checking credentials and the stack');
  const pre = await awsPreflight(flags, deps);
  if (!pre.proceed) return buildReport('aws', pre.subject, pre.checks);
  let t: ResolvedTarget;
  try {
    t = await (deps.resolve ?? ((f: TargetFlags) => resolveTarget(f)))(flags);
  } catch (e) {
    // A stack mid-deploy or from an older paypipe may lack outputs: a failed check, not a crash.
    if (!isPaypipeError(e)) throw e;
    return buildReport('aws', pre.subject, [
      ...pre.checks,
      fail('stack.outputs', 'Stack outputs', e.message, e.hint ?? 'run `paypipe deploy`'),
    ]);
  }
  if (t.kind !== 'aws') throw new Error('unreachable: AWS target expected');
  const { kinesisClient, s3Client } = await import('../../aws/clients.js');
  const kinesis = deps.kinesis ?? (await kinesisClient(t.clientTarget));
  const s3 = deps.s3 ?? (await s3Client(t.clientTarget));
  o.progress?.('checking streams, delivery, the event source mapping, metrics and freshness');
  try {
    const r = await awsResourceChecks(t, o, { ...deps, kinesis, s3 });
    return buildReport(
      'aws',
      pre.subject,
      [...pre.checks, ...r.checks],
      r.probe === undefined
        ? undefined
        : {
            marker: r.probe.marker,
            currency: r.probe.currency,
            windowStart: r.probe.windowStart,
            hops: r.probe.hops,
          },
    );
  } finally {
    if (deps.kinesis === undefined) kinesis.destroy();
    if (deps.s3 === undefined) s3.destroy();
  }
}
