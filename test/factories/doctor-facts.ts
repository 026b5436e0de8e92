/**
 * DoctorFacts for the doctor's pure tests: a healthy deployed stack and a healthy local pipeline
 * (every check passes, or is n/a where it has no local meaning), and fast-check arbitraries that
 * produce any facts at all, missing ones included, for properties over every check.
 */
import fc from 'fast-check';
import type {
  ConsumerFact,
  DeliveryFact,
  DoctorFacts,
  EventSourceMappingFacts,
  Fact,
  Invocation,
  Missing,
  QueryTablesFact,
} from '../../src/cli/doctor/facts.js';
import type { PipelineMetrics } from '../../src/cli/pipeline-metrics.js';
import { alarmDefinitions } from '../../src/pipeline/alarms.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { queryTables, TABLE_NAMES } from '../../src/pipeline/tables.js';

// Bounded retries and record age (the pre-issue-14 defaults) so drift in either direction can be shown;
// the no-loss defaults (-1: retried until the stream drops the records) have their own rows.
export const config = resolveConfig({ retryAttempts: 3, maxRecordAgeSeconds: 3600 });
const agg = config.aggregator;

export const k = <T>(value: T): Fact<T> => ({ known: true, value });
export const miss = <T>(missing: Missing): Fact<T> => ({ known: false, missing });
const skipped = <T>(why = 'not gathered'): Fact<T> => miss({ kind: 'skipped', why });
const notHere = <T>(why: string): Fact<T> => miss({ kind: 'not-here', why });

/** A mapping exactly as the stack deploys it from the default configuration. */
export const goodMapping: EventSourceMappingFacts = {
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

const shared = (target: 'aws' | 'local', invocation: Invocation) => ({
  target,
  config,
  invocation,
  limits: {},
  streams: {
    input: k({
      name: 'in',
      status: 'ACTIVE',
      openShards: config.streams.input.shardCount,
      mode: 'PROVISIONED',
    }),
    output: k({
      name: 'out',
      status: 'ACTIVE',
      openShards: config.streams.output.shardCount,
      mode: 'PROVISIONED',
    }),
  },
  deadLetters: k({ where: 'b/dead-letters/', objects: 0, records: 0 }),
  newest: {
    raw: k({ where: 'raw/data/', ageMs: 30_000 }),
    aggregations: k({ where: 'analytics/aggregations/', ageMs: 50_000 }),
  },
  schedule: k({ name: 'rule', enabled: true, expression: 'rate(1 minute)', count: 100 }),
  metrics: k(quietMetrics(target)),
  probe: skipped<never>('no --probe'),
});

/** An hour of light traffic (100 records a minute, nothing rejected), every alarm OK. */
export function quietMetrics(target: 'aws' | 'local'): PipelineMetrics {
  const endMs = Date.UTC(2025, 0, 15, 11, 0);
  return {
    source: target === 'aws' ? 'CloudWatch' : 'local function metrics (logs)',
    startMs: endMs - 3_600_000,
    endMs,
    periodMs: 60_000,
    points: Array.from({ length: 60 }, (_, i) => ({
      t: endMs - 3_600_000 + i * 60_000,
      recordsIn: 100,
      bytesIn: 12_000,
      aggregatesOut: 8,
      rejected: 0,
      lagMs: 800,
    })),
    rejectsByReason: {},
    alarms: alarmDefinitions(config)
      .filter((d) => target === 'aws' || d.local !== undefined)
      .map((d) => ({ name: d.name, state: 'OK' as const })),
    alarmsMissing: [],
  };
}

/** The query tables exactly as the stack creates them over these buckets (Glue's view of them). */
export function healthyTables(
  buckets = { raw: 'raw-bucket', analytics: 'analytics-bucket' },
): QueryTablesFact {
  const d = queryTables(config);
  return {
    database: d.database,
    buckets,
    tables: Object.fromEntries(
      TABLE_NAMES.map((n) => {
        const t = d.tables[n];
        const bucket = buckets[t.bucket];
        return [n, { location: t.location(bucket), parameters: { ...t.parameters(bucket) } }];
      }),
    ),
  };
}

/** A deployed stack whose every check passes. */
export function awsFacts(invocation: Invocation = { target: 'aws' }): DoctorFacts {
  const errors = (functionName: string) =>
    k({ functionName, periodMs: 900_000, invocations: 10, errors: 0, throttles: 0 });
  const delivery = (name: string): Fact<DeliveryFact> => k({ kind: 'firehose', name, status: 'ACTIVE' });
  return {
    ...shared('aws', invocation),
    subject: 'stack paypipe-dev in ap-southeast-2',
    localPipeline: skipped('AWS target'),
    localServers: skipped('AWS target'),
    identity: k({ ok: true, account: '123', arn: 'arn:aws:iam::123:user/a' }),
    region: k({ region: 'ap-southeast-2', source: 'AWS_REGION' }),
    stack: k({ name: 'paypipe-dev', status: 'UPDATE_COMPLETE' }),
    stackOutputs: k({
      stackName: 'paypipe-dev',
      status: 'UPDATE_COMPLETE',
      missing: [],
      version: '0.1.0',
      cliVersion: '0.1.0',
    }),
    delivery: { raw: delivery('raw'), analytics: delivery('analytics') },
    tables: k(healthyTables()),
    consumer: k({ kind: 'mapping', functionName: 'agg', mappings: [goodMapping] }),
    failedBatches: k({ where: 'SQS q', count: 0 }),
    lag: {
      stream: k({ label: 'GetRecords.IteratorAgeMilliseconds (latest minute)', ageMs: 800 }),
      aggregator: k({ label: 'IteratorAge (latest minute)', ageMs: 1200 }),
    },
    errors: { aggregator: errors('agg'), producer: errors('prod') },
    pipelineAgeMs: notHere('on AWS'),
  };
}

/** A running local pipeline whose every check passes (AWS-only ones n/a). */
export function localFacts(invocation: Invocation = { target: 'local' }): DoctorFacts {
  const delivery = (name: string): Fact<DeliveryFact> =>
    k({
      kind: 'local',
      name,
      running: true,
      recordsDelivered: 40,
      objectsWritten: 2,
      bufferedRecords: 0,
      deliveryErrors: 0,
      errorObjects: 0,
      logFile: '/d/servers.log',
    });
  return {
    ...shared('local', invocation),
    subject: 'local pipeline in /d',
    localPipeline: k({ running: true, pid: 42, dataDir: '/d' }),
    localServers: k({
      kinesisEndpoint: 'http://127.0.0.1:1',
      s3Endpoint: 'http://127.0.0.1:2',
      logFile: '/d/servers.log',
    }),
    identity: notHere('local pipeline: no AWS account involved'),
    region: notHere('local pipeline: one embedded region'),
    stack: notHere('local pipeline: no CloudFormation stack'),
    stackOutputs: skipped('local pipeline'),
    delivery: { raw: delivery('raw'), analytics: delivery('analytics') },
    tables: notHere('local pipeline: no Glue catalog'),
    consumer: k({
      kind: 'poller',
      running: true,
      pid: 42,
      statusAgeMs: 500,
      shards: 2,
      recordsRead: 40,
      invocations: 4,
      retries: 0,
    }),
    failedBatches: k({ where: 'failed-batches.ndjson', count: 0 }),
    lag: {
      stream: notHere('no CloudWatch metrics locally: see the aggregator lag'),
      aggregator: k({ label: '2 shards; oldest unprocessed record:', ageMs: 0 }),
    },
    errors: {
      aggregator: k({ functionName: 'agg', periodMs: 900_000, invocations: 4, errors: 0 }),
      producer: k({ functionName: 'prod', periodMs: 900_000, invocations: 0, errors: 0 }),
    },
    pipelineAgeMs: k(3_600_000),
  };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: any facts at all.

const text = fc.string({ maxLength: 12 });
const age = fc.option(fc.nat({ max: 10 * 86_400_000 }), { nil: undefined });
const count = fc.nat({ max: 1_000_000 });

const missing: fc.Arbitrary<Missing> = fc.oneof(
  fc.record({ kind: fc.constant('not-here' as const), why: text }),
  fc.record({ kind: fc.constant('skipped' as const), why: text }),
  fc.record({ kind: fc.constant('denied' as const), error: text, permission: text }),
  fc.record({ kind: fc.constant('failed' as const), error: text }),
);

const fact = <T>(value: fc.Arbitrary<T>): fc.Arbitrary<Fact<T>> =>
  fc.oneof(
    { weight: 3, arbitrary: value.map((v) => k(v)) },
    { weight: 1, arbitrary: missing.map((m) => miss<T>(m)) },
  );

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Lambda function names as AWS allows them (fixes put them in commands). */
const functionName = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

const mapping: fc.Arbitrary<EventSourceMappingFacts> = fc.record(
  {
    UUID: opt(fc.uuid()),
    State: opt(fc.constantFrom('Enabled', 'Enabling', 'Disabled', 'Updating', 'Creating', 'Deleting')),
    StateTransitionReason: opt(text),
    LastProcessingResult: opt(fc.constantFrom('OK', 'No records processed', 'PROBLEM: Function call failed')),
    BatchSize: opt(fc.integer({ min: 1, max: 10_000 })),
    MaximumBatchingWindowInSeconds: opt(fc.integer({ min: 0, max: 300 })),
    BisectBatchOnFunctionError: opt(fc.boolean()),
    MaximumRetryAttempts: opt(fc.integer({ min: -1, max: 10_000 })),
    MaximumRecordAgeInSeconds: opt(fc.integer({ min: -1, max: 604_800 })),
    DestinationConfig: opt(fc.record({ OnFailure: opt(fc.record({ Destination: opt(text) })) })),
    FunctionResponseTypes: opt(fc.subarray(['ReportBatchItemFailures'])),
    StartingPosition: opt(fc.constantFrom('TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP')),
    ParallelizationFactor: opt(fc.integer({ min: 1, max: 10 })),
  },
  { requiredKeys: [] },
);

const consumer: fc.Arbitrary<ConsumerFact> = fc.oneof(
  fc.record({
    kind: fc.constant('mapping' as const),
    functionName,
    mappings: fc.array(mapping, { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('poller' as const),
    running: fc.boolean(),
    pid: fc.nat(),
    statusAgeMs: fc.nat({ max: 60_000 }),
    shards: fc.nat({ max: 64 }),
    recordsRead: count,
    invocations: count,
    retries: count,
  }),
);

const stream = fc.record({
  name: text,
  status: opt(fc.constantFrom('ACTIVE', 'UPDATING', 'CREATING', 'DELETING')),
  openShards: opt(fc.nat({ max: 64 })),
  mode: opt(fc.constantFrom('PROVISIONED', 'ON_DEMAND')),
});

const delivery: fc.Arbitrary<DeliveryFact> = fc.oneof(
  fc.record({
    kind: fc.constant('firehose' as const),
    name: text,
    status: opt(fc.constantFrom('ACTIVE', 'CREATING', 'DELETING', 'CREATING_FAILED')),
    failure: opt(text),
  }),
  fc.record({
    kind: fc.constant('local' as const),
    name: text,
    running: fc.boolean(),
    recordsDelivered: count,
    objectsWritten: count,
    bufferedRecords: count,
    deliveryErrors: fc.nat({ max: 3 }),
    errorObjects: fc.nat({ max: 3 }),
    logFile: text,
    lastError: opt(text),
  }),
);

/** Glue's view of the tables: healthy, some missing, or one with any location and parameters. */
const tablesArb: fc.Arbitrary<QueryTablesFact> = fc
  .tuple(
    fc.option(text, { nil: undefined }),
    fc.subarray([...TABLE_NAMES]),
    fc.option(fc.record({ location: opt(text), parameters: fc.dictionary(text, text) }), { nil: undefined }),
  )
  .map(([database, gone, odd]) => {
    const h = healthyTables();
    const tables = { ...h.tables };
    for (const n of gone) delete tables[n];
    if (odd !== undefined) tables.raw_events = odd;
    return { ...h, database: database === undefined ? undefined : h.database, tables };
  });

const errorsFact = fc.record({
  functionName,
  periodMs: fc.constantFrom(900_000, 3_600_000),
  invocations: opt(fc.nat({ max: 20 })),
  errors: fc.nat({ max: 20 }),
  throttles: opt(fc.nat({ max: 5 })),
});

/**
 * Target flags as a user may give them, hostile characters included (quotes, `$`, spaces, globs),
 * except what the parser refuses (a blank --data-dir) and a backtick, which delimits a command inside a fix and so cannot appear in one.
 */
export const invocation = (target: 'aws' | 'local'): fc.Arbitrary<Invocation> => {
  const word = fc.oneof(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
    fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((s) => !s.startsWith('-') && !/[`\x00-\x1f\x7f]/.test(s)),
  );
  return target === 'local'
    ? fc.record(
        // A blank --data-dir is refused while parsing (dirFlag), so no fix can carry one.
        { target: fc.constant('local' as const), dataDir: opt(word.filter((s) => s.trim() !== '')) },
        { requiredKeys: ['target'] },
      )
    : fc.record(
        {
          target: fc.constant('aws' as const),
          env: opt(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/)),
          project: opt(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/)),
          region: opt(fc.constantFrom('eu-west-1', 'us-gov-west-1', 'ap-southeast-2')),
          profile: opt(word),
          stack: opt(word),
        },
        { requiredKeys: ['target'] },
      );
};

const only = <T>(a: fc.Arbitrary<T>, kind: string) => a.filter((x) => (x as { kind: string }).kind === kind);
const notHereArb = <T>() => fc.constant(notHere<T>('no meaning for this target'));
const skippedArb = <T>() => fc.constant(skipped<T>('not for this target'));

/** Any facts one target's gatherer could produce (missing ones included), for one target. */
export const anyFacts = (target: 'aws' | 'local'): fc.Arbitrary<DoctorFacts> => {
  const aws = target === 'aws';
  return fc.record({
    target: fc.constant(target),
    subject: text,
    config: fc.constant(config),
    invocation: invocation(target),
    limits: fc.record(
      {
        maxLagMs: opt(fc.integer({ min: 1000, max: 86_400_000 })),
        staleAfterMs: opt(fc.integer({ min: 1000, max: 86_400_000 })),
      },
      { requiredKeys: [] },
    ),
    localPipeline: !aws
      ? fact(
          fc.oneof(
            fc.record({ running: fc.constant(true as const), pid: fc.nat(), dataDir: text }),
            fc.record({ running: fc.constant(false as const), reason: text, lastStatusAt: opt(text) }),
          ),
        )
      : skippedArb(),
    localServers: !aws
      ? fact(fc.record({ kinesisEndpoint: text, s3Endpoint: text, logFile: text, error: opt(text) }))
      : skippedArb(),
    identity: !aws
      ? notHereArb()
      : fact(
          fc.oneof(
            fc.record({ ok: fc.constant(true as const), account: text, arn: text }),
            fc.record({ ok: fc.constant(false as const), error: text, network: fc.boolean() }),
          ),
        ),
    region: !aws
      ? notHereArb()
      : fact(
          fc.oneof(
            fc.record({
              region: fc.oneof(fc.constantFrom('ap-southeast-2', 'eu-west-1', '', ' ', '\t'), text),
              source: fc.constantFrom('--region', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'paypipe default'),
            }),
            fc.record({ problem: text, hint: opt(text) }),
          ),
        ),
    stack: !aws
      ? notHereArb()
      : fact(
          fc.record({
            name: text,
            status: opt(
              fc.constantFrom(
                'CREATE_COMPLETE',
                'UPDATE_IN_PROGRESS',
                'UPDATE_ROLLBACK_COMPLETE',
                'ROLLBACK_IN_PROGRESS',
              ),
            ),
            reason: opt(text),
            error: opt(text),
          }),
        ),
    stackOutputs: !aws
      ? skippedArb()
      : fact(
          fc.record({
            stackName: text,
            status: fc.constantFrom('CREATE_IN_PROGRESS', 'UPDATE_COMPLETE'),
            missing: fc.subarray(['InputStreamName', 'RawBucketName']),
            version: fc.option(fc.constantFrom('0.0.9', '0.1.0'), { nil: undefined }),
            cliVersion: fc.constant('0.1.0'),
          }),
        ),
    streams: fc.record({ input: fact(stream), output: fact(stream) }),
    delivery: fc.record({
      raw: fact(only(delivery, aws ? 'firehose' : 'local')),
      analytics: fact(only(delivery, aws ? 'firehose' : 'local')),
    }),
    tables: aws ? fact(tablesArb) : notHereArb(),
    consumer: fact(only(consumer, aws ? 'mapping' : 'poller')),
    failedBatches: fact(fc.record({ where: text, count: opt(fc.nat({ max: 5 })) })),
    deadLetters: fact(
      fc.record({ where: text, objects: fc.nat({ max: 60 }), records: opt(fc.nat({ max: 100 })) }),
    ),
    lag: fc.record({
      stream: aws ? fact(fc.record({ label: text, ageMs: age })) : notHereArb(),
      aggregator: fact(fc.record({ label: text, ageMs: age })),
    }),
    errors: fc.record({ aggregator: fact(errorsFact), producer: fact(errorsFact) }),
    newest: fc.record({
      raw: fact(fc.record({ where: text, ageMs: age })),
      aggregations: fact(fc.record({ where: text, ageMs: age })),
    }),
    pipelineAgeMs: aws ? notHereArb() : fact(fc.nat({ max: 86_400_000 })),
    schedule: fact(
      fc.record({
        name: text,
        enabled: opt(fc.boolean()),
        expression: opt(
          fc.constantFrom('rate(1 minute)', 'rate(30 seconds)', 'cron(0/15 * * * ? *)', 'nonsense'),
        ),
        count: opt(fc.nat({ max: 1000 })),
      }),
    ),
    metrics: fact(
      fc.record({
        source: text,
        startMs: fc.constant(0),
        endMs: fc.constant(3_600_000),
        periodMs: fc.constantFrom(10_000, 60_000),
        points: fc.array(
          fc.record({
            t: fc.nat({ max: 59 }).map((i) => i * 60_000),
            recordsIn: fc.nat({ max: 200_000 }),
            bytesIn: fc.nat({ max: 200_000_000 }),
            aggregatesOut: fc.nat({ max: 1000 }),
            rejected: fc.nat({ max: 1000 }),
            lagMs: opt(fc.nat({ max: 3_600_000 })),
          }),
          { maxLength: 5 },
        ),
        rejectsByReason: fc.dictionary(fc.constantFrom('not_json', 'unknown_currency'), fc.nat({ max: 500 })),
        alarms: fc.array(
          fc.record({
            name: text,
            state: fc.constantFrom('OK' as const, 'ALARM' as const, 'INSUFFICIENT_DATA' as const),
            value: opt(fc.double({ noNaN: true, min: 0, max: 1e6 })),
          }),
          { maxLength: 3 },
        ),
        alarmsMissing: fc.subarray(['paypipe-dev-lag', 'paypipe-dev-rejects']),
      }),
    ),
    probe: fact(
      fc.record({
        marker: text,
        currency: fc.constant('XPF'),
        windowStart: text,
        hops: fc.array(
          fc.record({
            name: fc.constantFrom('input stream', 'raw bucket', 'output stream', 'analytics bucket'),
            latencyMs: age,
          }),
        ),
        timeoutMs: fc.integer({ min: 1000, max: 300_000 }),
      }),
    ),
  });
};
