/**
 * DoctorFacts from a deployed stack: the region and where it came from, the caller's identity,
 * the stack and its outputs (the report stops at the first of these that is not usable), then, in
 * parallel: streams, delivery streams, the aggregator's event source mappings, the failure queue,
 * dead letters, CloudWatch metrics (iterator ages, errors, throttles, invocations), the newest
 * objects in both buckets, the producer schedule, and optionally the canary probe.
 *
 * Each step is gathered on its own (gather-common.ts): one missing permission costs one fact.
 */
import type { AwsClients } from '../../aws/clients.js';
import { REQUIRED_OUTPUTS, describeStack, type StackDescription } from '../../aws/cloudformation.js';
import { latestValue, metricSeries, type MetricQuery, sumValues } from '../../aws/cloudwatch.js';
import { errorName } from '../../aws/errors.js';
import { readProducerSchedule } from '../../aws/events.js';
import { describeDeliveryStream } from '../../aws/firehose.js';
import { getTable } from '../../aws/glue.js';
import { kinesisMappingsOf, producerDefaultCount } from '../../aws/lambda.js';
import { type AwsClientTarget, resolveAwsSettings, resolveRegion } from '../../aws/settings.js';
import { queueDepth } from '../../aws/sqs.js';
import { callerIdentity } from '../../aws/sts.js';
import { isPaypipeError } from '../../errors.js';
import { PREFIXES, type PipelineConfig, resolveConfig } from '../../pipeline/config.js';
import { TABLE_NAMES } from '../../pipeline/tables.js';
import { loadEnvironment } from '../configuration.js';
import type { TargetFlags } from '../options.js';
import { paypipeVersion } from '../../version.js';
import { namesFromOutputs, type ResourceNames } from '../target.js';
import type {
  DoctorFacts,
  Fact,
  IdentityFact,
  QueryTablesFact,
  RegionFact,
  ScheduleFact,
  StackFact,
} from './facts.js';
import type { GatherOptions, Kinesis, S3 } from './gather-common.js';
import {
  errLine,
  gather,
  invocationOf,
  knownFact,
  limitsOf,
  notHere,
  probeOptions,
  skipped,
  stoppedFacts,
} from './gather-common.js';
import { deadLetterFact, newestObject, streamFact } from './common-facts.js';
import { runProbe } from './probe.js';

export interface AwsGatherDeps {
  /** The control-plane clients for a target (default: awsOnlyClients, 3 attempts per call). */
  clients?: (target: AwsClientTarget) => Promise<AwsClients>;
  /** Data-plane clients (default: built for the target; tests point them at the local servers). */
  kinesis?: Kinesis;
  s3?: S3;
  /** The clock ages are measured with. */
  now?: () => number;
  env?: NodeJS.ProcessEnv;
}

const METRICS_PERIOD_MS = 15 * 60_000;

/**
 * The region and where it came from, from the one resolver every command uses (flag, AWS_REGION,
 * AWS_DEFAULT_REGION, the profile, paypipe's default; an empty variable is unset). A region it
 * rejects (blank, malformed) is a fact too: the region check fails with the resolver's words.
 */
export function regionOf(flags: TargetFlags, env: NodeJS.ProcessEnv, config: PipelineConfig): RegionFact {
  try {
    return resolveRegion(flags, env, config.region);
  } catch (e) {
    if (!isPaypipeError(e) || e.code !== 'USAGE') throw e;
    return { problem: e.message, hint: e.hint };
  }
}

/**
 * The environment's configuration (paypipe.config.json and the flags) and the AWS settings, as every
 * command resolves them (src/cli/configuration.ts). A region the resolver rejects is a fact, not an
 * exit: the region check fails with the resolver's words; any other configuration problem is a
 * usage error like everywhere else.
 */
export function environmentOf(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv,
): { config: PipelineConfig; region: RegionFact; target?: AwsClientTarget } {
  try {
    const { loaded, aws } = loadEnvironment(flags, env);
    return { config: loaded.config, region: { region: aws.region, source: aws.regionSource }, target: aws };
  } catch (e) {
    if (!isPaypipeError(e) || e.code !== 'USAGE' || !/region/i.test(e.message)) throw e;
    const config = resolveConfig({
      ...(flags.project === undefined ? {} : { project: flags.project }),
      ...(flags.env === undefined ? {} : { environment: flags.env }),
    });
    // The resolver's own words where it rejects the region too (they name the source).
    const fromResolver = regionOf(flags, env, config);
    return {
      config,
      region: 'problem' in fromResolver ? fromResolver : { problem: e.message, hint: e.hint },
    };
  }
}

export async function gatherAws(
  flags: TargetFlags,
  o: GatherOptions,
  deps: AwsGatherDeps = {},
): Promise<DoctorFacts> {
  const env = deps.env ?? process.env;
  const { config, region, target: resolved } = environmentOf(flags, env);
  const stackName = flags.stack ?? config.stackName;
  const base = {
    target: 'aws' as const,
    subject: `stack ${stackName} in ${'problem' in region ? '(no usable region)' : region.region}`,
    config,
    invocation: invocationOf(flags),
    limits: limitsOf(o),
  };
  const stop = (why: string, known: Partial<DoctorFacts>): DoctorFacts => ({
    ...stoppedFacts(base, why),
    ...known,
  });
  const regionFact = knownFact(region);
  if ('problem' in region) return stop('no usable region', { region: regionFact });

  // Profile and endpoints from the same resolver (an empty AWS_PROFILE is no profile).
  const target: AwsClientTarget = resolved ?? resolveAwsSettings(flags, env, config.region);
  const clients = await (deps.clients ?? ((t) => defaultClients(t)))(target);
  const open: Array<{ destroy(): void }> = [];
  const client = async <C extends { destroy(): void }>(make: () => Promise<C>): Promise<C> => {
    const c = await make();
    open.push(c);
    return c;
  };
  try {
    o.progress?.('checking credentials and the stack');
    const identity = await identityFact(await client(clients.sts), o);
    if (!identity.ok) return stop('no credentials', { region: regionFact, identity: knownFact(identity) });

    const known = { region: regionFact, identity: knownFact(identity) };
    const stack = await stackFacts(stackName, target, o);
    if (stack.outputs === undefined) return stop('no usable stack', { ...known, ...stack.facts });
    const names = namesFromOutputs(stack.outputs, config);
    const { kinesisClient, s3Client } = await import('../../aws/clients.js');
    const kinesis = deps.kinesis ?? (await client(() => kinesisClient(target)));
    const s3 = deps.s3 ?? (await client(() => s3Client(target)));
    o.progress?.('checking streams, delivery, the event source mapping, metrics and freshness');
    const facts: DoctorFacts = {
      ...base,
      ...known,
      localPipeline: skipped('AWS target'),
      localServers: skipped('AWS target'),
      ...stack.facts,
      ...(await resourceFacts(names, config, o, {
        clients,
        client,
        kinesis,
        s3,
        nowMs: (deps.now ?? Date.now)(),
      })),
      tables: await tablesFact(names, stack.outputs.GlueDatabaseName, config, o, () => client(clients.glue)),
      pipelineAgeMs: notHere('on AWS freshness is judged against the schedule alone'),
      probe: skipped('no --probe'),
    };
    if (!o.probe) return facts;
    o.progress?.('probe: sending a canary event');
    const probe = await gather(o, 'probe', () =>
      runProbe({ kinesis, s3, names, config, ...probeOptions(o, 5000) }),
    );
    return { ...facts, probe };
  } finally {
    for (const c of open) c.destroy();
  }
}

/**
 * The stack's status, outputs and version from one DescribeStacks. A missing stack, or one with no
 * outputs at all (mid-create), leaves no names: the report stops after saying so. A stack lacking
 * some (another paypipe version, a partial deploy) is checked for the rest; the stack.outputs
 * check names the missing ones.
 */
async function stackFacts(
  stackName: string,
  t: AwsClientTarget,
  o: GatherOptions,
): Promise<{ facts: Pick<DoctorFacts, 'stack' | 'stackOutputs'>; outputs?: StackDescription['outputs'] }> {
  try {
    const d = await describeStack({
      stackName,
      region: t.region,
      profile: t.profile,
      endpoints: t.endpoints,
    });
    return {
      facts: {
        stack: knownFact<StackFact>({ name: stackName, status: d.status, reason: d.statusReason }),
        stackOutputs: knownFact({
          stackName,
          status: d.status,
          missing: [...d.missing],
          version: d.version,
          cliVersion: paypipeVersion(),
        }),
      },
      outputs: d.missing.length < REQUIRED_OUTPUTS.length ? d.outputs : undefined,
    };
  } catch (e) {
    o.debug?.(`stack: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    if (isPaypipeError(e) && e.code === 'STACK_NOT_FOUND') {
      return {
        facts: { stack: knownFact<StackFact>({ name: stackName }), stackOutputs: skipped('no stack') },
      };
    }
    // Not knowing the stack means not knowing any resource: the report stops here, failed.
    return {
      facts: {
        stack: knownFact<StackFact>({ name: stackName, error: errLine(e) }),
        stackOutputs: skipped('no stack'),
      },
    };
  }
}

async function defaultClients(t: AwsClientTarget): Promise<AwsClients> {
  const { awsOnlyClients } = await import('../../aws/clients.js');
  return awsOnlyClients(t, { maxAttempts: 3 });
}

async function identityFact(
  sts: Awaited<ReturnType<AwsClients['sts']>>,
  o: GatherOptions,
): Promise<IdentityFact> {
  try {
    const id = await callerIdentity(sts);
    return { ok: true, account: id.account ?? '?', arn: id.arn ?? '?' };
  } catch (e) {
    o.debug?.(`credentials: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return { ok: false, error: errLine(e), network: isNetworkError(e) };
  }
}

const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The endpoint could not be reached (DNS, refused, timed out), also when the SDK wraps it. */
function isNetworkError(e: unknown): boolean {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 4; depth++) {
    const code = (x as { code?: unknown }).code;
    if ((typeof code === 'string' && NETWORK.has(code)) || errorName(x) === 'TimeoutError') return true;
    x = (x as { cause?: unknown }).cause;
  }
  return false;
}

type ResourceFacts = Pick<
  DoctorFacts,
  | 'streams'
  | 'delivery'
  | 'consumer'
  | 'failedBatches'
  | 'deadLetters'
  | 'lag'
  | 'errors'
  | 'newest'
  | 'schedule'
  | 'metrics'
>;

async function resourceFacts(
  n: ResourceNames,
  c: PipelineConfig,
  o: GatherOptions,
  d: {
    clients: AwsClients;
    client: <C extends { destroy(): void }>(make: () => Promise<C>) => Promise<C>;
    kinesis: Kinesis;
    s3: S3;
    nowMs: number;
  },
): Promise<ResourceFacts> {
  const { clients, client, kinesis, s3, nowMs } = d;
  const [firehose, lambda, sqs, cw, eb] = await Promise.all([
    client(clients.firehose),
    client(clients.lambda),
    client(clients.sqs),
    client(clients.cloudWatch),
    client(clients.eventBridge),
  ]);
  const delivery = (name: string) =>
    gather(
      o,
      `delivery stream ${name}`,
      async () => ({ kind: 'firehose' as const, ...(await describeDeliveryStream(firehose, name)) }),
      'firehose:DescribeDeliveryStream',
    );
  const newest = (bucket: string, prefix: string) =>
    gather(
      o,
      `objects under s3://${bucket}/${prefix}`,
      () => newestObject(s3, bucket, prefix, nowMs, `s3://${bucket}/${prefix}`),
      `s3:ListBucket on ${bucket}`,
    );
  const [
    input,
    output,
    raw,
    analytics,
    consumer,
    failedBatches,
    deadLetters,
    metrics,
    newestRaw,
    newestAggs,
    schedule,
    monitoring,
  ] = await Promise.all([
    gather(o, 'input stream', () => streamFact(kinesis, n.inputStream), 'kinesis:DescribeStreamSummary'),
    gather(o, 'output stream', () => streamFact(kinesis, n.outputStream), 'kinesis:DescribeStreamSummary'),
    delivery(n.rawDeliveryStream),
    delivery(n.analyticsDeliveryStream),
    gather(
      o,
      'event source mappings',
      async () => ({
        kind: 'mapping' as const,
        functionName: n.aggregatorFunction,
        mappings: await kinesisMappingsOf(lambda, n.aggregatorFunction, n.inputStream),
      }),
      'lambda:ListEventSourceMappings',
    ),
    gather(
      o,
      'failure queue',
      async () =>
        n.failureQueueUrl === undefined
          ? { where: 'the failure queue (no FailureQueueUrl output)' }
          : {
              where: `SQS ${n.failureQueueUrl.replace(/\/+$/, '').split('/').at(-1)}`,
              count: await queueDepth(sqs, n.failureQueueUrl),
            },
      'sqs:GetQueueAttributes',
    ),
    gather(
      o,
      'dead letters',
      () =>
        deadLetterFact(
          s3,
          n.analyticsBucket,
          c,
          nowMs,
          `s3://${n.analyticsBucket}/${c.aggregator.deadLetterPrefix}`,
        ),
      's3:ListBucket and s3:GetObject on the analytics bucket',
    ),
    gather(
      o,
      'metrics',
      () => metricSeries(cw, metricQueries(n), { startMs: nowMs - METRICS_PERIOD_MS, endMs: nowMs }),
      'cloudwatch:GetMetricData',
    ),
    newest(n.rawBucket, PREFIXES.raw),
    newest(n.analyticsBucket, PREFIXES.aggregations),
    gather(
      o,
      'schedule',
      () => scheduleFact(n, eb, lambda),
      'events:DescribeRule and events:ListTargetsByRule',
    ),
    gather(
      o,
      'alarms and the last hour of metrics',
      async () => {
        const { awsPipelineMetrics } = await import('../pipeline-metrics.js');
        return awsPipelineMetrics(cw, c, n, { startMs: nowMs - 3_600_000, endMs: nowMs });
      },
      'cloudwatch:GetMetricData and cloudwatch:DescribeAlarms',
    ),
  ]);

  // One GetMetricData call feeds four facts: when it fails, each of them says so.
  const fromMetrics = <T>(
    f: (m: Map<string, import('../../aws/cloudwatch.js').MetricPoint[]>) => T,
  ): Fact<T> => (metrics.known ? knownFact(f(metrics.value)) : metrics);
  const errorsOf = (fn: string, prefix: 'agg' | 'prod') =>
    fromMetrics((m) => ({
      functionName: fn,
      periodMs: METRICS_PERIOD_MS,
      invocations: sumValues(m.get(`${prefix}Invocations`)),
      errors: sumValues(m.get(`${prefix}Errors`)),
      throttles: sumValues(m.get(`${prefix}Throttles`)),
    }));
  return {
    streams: { input, output },
    delivery: { raw, analytics },
    consumer,
    failedBatches,
    deadLetters,
    lag: {
      stream: fromMetrics((m) => ({
        label: 'GetRecords.IteratorAgeMilliseconds (latest minute)',
        ageMs: latestValue(m.get('streamAge')),
      })),
      aggregator: fromMetrics((m) => ({
        label: 'IteratorAge (latest minute)',
        ageMs: latestValue(m.get('fnAge')),
      })),
    },
    errors: {
      aggregator: errorsOf(n.aggregatorFunction, 'agg'),
      producer: errorsOf(n.producerFunction, 'prod'),
    },
    newest: { raw: newestRaw, aggregations: newestAggs },
    schedule,
    metrics: monitoring,
  };
}

function metricQueries(n: ResourceNames): MetricQuery[] {
  const fn = (id: string, metric: string, name: string, stat: MetricQuery['stat']): MetricQuery => ({
    id,
    namespace: 'AWS/Lambda',
    metric,
    dimensions: { FunctionName: name },
    stat,
  });
  return [
    {
      id: 'streamAge',
      namespace: 'AWS/Kinesis',
      metric: 'GetRecords.IteratorAgeMilliseconds',
      dimensions: { StreamName: n.inputStream },
      stat: 'Maximum',
    },
    fn('fnAge', 'IteratorAge', n.aggregatorFunction, 'Maximum'),
    fn('aggErrors', 'Errors', n.aggregatorFunction, 'Sum'),
    fn('aggThrottles', 'Throttles', n.aggregatorFunction, 'Sum'),
    fn('aggInvocations', 'Invocations', n.aggregatorFunction, 'Sum'),
    fn('prodErrors', 'Errors', n.producerFunction, 'Sum'),
    fn('prodThrottles', 'Throttles', n.producerFunction, 'Sum'),
    fn('prodInvocations', 'Invocations', n.producerFunction, 'Sum'),
  ];
}

/** The query tables as Glue has them; n/a when this environment leaves them out (`queryTables: false`). */
async function tablesFact(
  n: ResourceNames,
  database: string | undefined,
  c: PipelineConfig,
  o: GatherOptions,
  glueClient: () => Promise<Awaited<ReturnType<AwsClients['glue']>>>,
): Promise<Fact<QueryTablesFact>> {
  const buckets = { raw: n.rawBucket, analytics: n.analyticsBucket };
  if (database === undefined) {
    if (!c.query.enabled) {
      return notHere('queryTables is false in this environment: the stack has no query tables');
    }
    return knownFact({ buckets, tables: {} });
  }
  return gather(
    o,
    `query tables in ${database}`,
    async () => {
      const glue = await glueClient();
      const found = await Promise.all(TABLE_NAMES.map((t) => getTable(glue, database, t)));
      return { database, buckets, tables: Object.fromEntries(TABLE_NAMES.map((t, i) => [t, found[i]])) };
    },
    'glue:GetTable',
  );
}

async function scheduleFact(
  n: ResourceNames,
  eb: Awaited<ReturnType<AwsClients['eventBridge']>>,
  lambda: Awaited<ReturnType<AwsClients['lambda']>>,
): Promise<ScheduleFact> {
  const rule = n.scheduleRule;
  if (rule === undefined) return { name: '(no ProducerScheduleRuleName output)' };
  const r = await readProducerSchedule(eb, rule, n.producerFunction);
  if (r === undefined) return { name: rule };
  // Without a count in the rule's input, the producer runs its own default (EVENTS_PER_INVOCATION).
  const count = r.count ?? (await producerDefaultCount(lambda, n.producerFunction));
  return { name: rule, enabled: r.rule.enabled, expression: r.rule.expression, count };
}
