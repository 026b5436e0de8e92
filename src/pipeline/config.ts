/**
 * The one pipeline configuration. The CDK stack (src/infra), the Lambda handlers (through the
 * environment the stack sets), the embedded local pipeline (src/local) and the CLI all read the
 * values from here, so a batch size or a prefix is changed in exactly one place.
 *
 * Pure: no env, no clock. Callers pass overrides (from flags or a config file) in.
 */

export type CapacityMode = 'ON_DEMAND' | 'PROVISIONED';
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';

export interface StreamSettings {
  /** Physical stream name (deterministic so the CLI and the local pipeline agree on it). */
  readonly name: string;
  readonly capacityMode: CapacityMode;
  /** Shards when PROVISIONED; also the shard count of the local (kinesalite) stream. */
  readonly shardCount: number;
  readonly retentionHours: number;
}

export interface DeliverySettings {
  /** Logical name of the Firehose delivery stream. */
  readonly name: string;
  /** S3 key prefix; `!{timestamp:…}` placeholders are Firehose's arrival-time partitioning. */
  readonly prefix: string;
  readonly errorPrefix: string;
  readonly bufferIntervalSeconds: number;
  readonly bufferSizeMiB: number;
  readonly compression: 'GZIP' | 'UNCOMPRESSED';
}

export interface AggregatorSettings {
  readonly functionName: string;
  /** Tumbling window width in event time. */
  readonly windowSeconds: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly startingPosition: StartingPosition;
  readonly bisectBatchOnError: boolean;
  readonly reportBatchItemFailures: boolean;
  /** Bounded: -1 (infinite) is never allowed, a poison batch must not block a shard for a day. */
  readonly retryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  readonly parallelizationFactor: number;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  /** Where records that fail validation go (in the analytics bucket), one object per batch. */
  readonly deadLetterPrefix: string;
  /** Events whose event_timestamp is this far ahead of arrival are rejected. */
  readonly maxFutureSkewMs: number;
}

export interface ProducerSettings {
  readonly functionName: string;
  /** EventBridge schedule expression, e.g. `rate(1 minute)`. */
  readonly schedule: string;
  readonly scheduleEnabled: boolean;
  readonly eventsPerInvocation: number;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
}

export interface PipelineConfig {
  readonly project: string;
  readonly environment: string;
  readonly region: string;
  /** `<project>-<environment>`. */
  readonly stackName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** `destroy` lets a dev environment delete its buckets' objects on destroy; otherwise kept. */
  readonly removalPolicy: 'retain' | 'destroy';
  readonly streams: { readonly input: StreamSettings; readonly output: StreamSettings };
  readonly buckets: {
    /** Names used by the local pipeline; on AWS CloudFormation names buckets (globally unique). */
    readonly raw: string;
    readonly analytics: string;
  };
  readonly firehose: { readonly raw: DeliverySettings; readonly analytics: DeliverySettings };
  readonly aggregator: AggregatorSettings;
  readonly producer: ProducerSettings;
  /** Failed-batch destination (Lambda on-failure): an SQS queue on AWS, a file locally. */
  readonly failureQueueName: string;
}

/** What a user may set; everything else is derived. */
export interface ConfigOverrides {
  project?: string;
  environment?: string;
  region?: string;
  tags?: Record<string, string>;
  removalPolicy?: 'retain' | 'destroy';
  shardCount?: number;
  capacityMode?: CapacityMode;
  retentionHours?: number;
  windowSeconds?: number;
  batchSize?: number;
  maxBatchingWindowSeconds?: number;
  retryAttempts?: number;
  maxRecordAgeSeconds?: number;
  /** On by default (a poison batch is isolated); see docs/windowing.md for the exactness trade-off. */
  bisectBatchOnError?: boolean;
  bufferIntervalSeconds?: number;
  bufferSizeMiB?: number;
  schedule?: string;
  scheduleEnabled?: boolean;
  eventsPerInvocation?: number;
}

export const DEFAULT_REGION = 'ap-southeast-2';

/** Firehose's Hive-style arrival-time partition placeholders. */
export const hivePartition =
  'year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/';

export const PREFIXES = {
  raw: 'data/',
  aggregations: 'aggregations/',
  rawErrors: 'errors/raw/',
  aggregationErrors: 'errors/aggregations/',
  deadLetters: 'dead-letters/',
} as const;

const NAME = /^[a-z][a-z0-9-]{0,19}$/;

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

const intIn = (field: string, v: number, min: number, max: number): number => {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `${field} must be a whole number from ${min} to ${max}, got ${v}`);
  }
  return v;
};

export function resolveConfig(o: ConfigOverrides = {}): PipelineConfig {
  const project = o.project ?? 'paypipe';
  const environment = o.environment ?? 'dev';
  for (const [field, v] of [
    ['project', project],
    ['environment', environment],
  ] as const) {
    if (!NAME.test(v)) {
      throw new ConfigError(
        field,
        `${field} "${v}" must start with a letter and use only a-z, 0-9 and "-" (at most 20 characters)`,
      );
    }
  }
  const region = o.region ?? DEFAULT_REGION;
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) {
    throw new ConfigError('region', `region "${region}" is not an AWS region name like ap-southeast-2`);
  }
  const base = `${project}-${environment}`;
  const shardCount = intIn('shardCount', o.shardCount ?? 2, 1, 500);
  const capacityMode = o.capacityMode ?? 'PROVISIONED';
  const retentionHours = intIn('retentionHours', o.retentionHours ?? 24, 24, 8760);
  const windowSeconds = intIn('windowSeconds', o.windowSeconds ?? 60, 1, 3600);
  const batchSize = intIn('batchSize', o.batchSize ?? 500, 1, 10000);
  const maxBatchingWindowSeconds = intIn('maxBatchingWindowSeconds', o.maxBatchingWindowSeconds ?? 0, 0, 300);
  const retryAttempts = intIn('retryAttempts', o.retryAttempts ?? 3, 0, 10000);
  const maxRecordAgeSeconds = intIn('maxRecordAgeSeconds', o.maxRecordAgeSeconds ?? 3600, 60, 604800);
  // Freshness over file count: Firehose's minimum interval is 0 s (we default to 60 s, 1 MiB).
  const bufferIntervalSeconds = intIn('bufferIntervalSeconds', o.bufferIntervalSeconds ?? 60, 0, 900);
  const bufferSizeMiB = intIn('bufferSizeMiB', o.bufferSizeMiB ?? 1, 1, 128);
  const eventsPerInvocation = intIn('eventsPerInvocation', o.eventsPerInvocation ?? 100, 1, 100000);
  const schedule = o.schedule ?? 'rate(1 minute)';

  const delivery = (
    name: string,
    prefix: string,
    errorPrefix: string,
    compression: DeliverySettings['compression'],
  ): DeliverySettings => ({
    name,
    prefix: prefix + hivePartition,
    errorPrefix: `${errorPrefix}!{firehose:error-output-type}/${hivePartition}`,
    bufferIntervalSeconds,
    bufferSizeMiB,
    compression,
  });

  return {
    project,
    environment,
    region,
    stackName: base,
    tags: { Project: project, Environment: environment, ManagedBy: 'paypipe', ...o.tags },
    removalPolicy: o.removalPolicy ?? (environment === 'dev' ? 'destroy' : 'retain'),
    streams: {
      input: { name: `${base}-input-stream`, capacityMode, shardCount, retentionHours },
      output: { name: `${base}-output-stream`, capacityMode, shardCount: 1, retentionHours },
    },
    buckets: { raw: `${base}-raw-data`, analytics: `${base}-analytics-results` },
    firehose: {
      // Raw events are kept as they arrived (newline-free JSON from the producer is delimited by
      // the decoder, which accepts concatenated objects).
      raw: delivery(`${base}-raw-firehose`, PREFIXES.raw, PREFIXES.rawErrors, 'UNCOMPRESSED'),
      analytics: delivery(
        `${base}-analytics-firehose`,
        PREFIXES.aggregations,
        PREFIXES.aggregationErrors,
        'GZIP',
      ),
    },
    aggregator: {
      functionName: `${base}-aggregator`,
      windowSeconds,
      batchSize,
      maxBatchingWindowSeconds,
      startingPosition: 'TRIM_HORIZON',
      bisectBatchOnError: o.bisectBatchOnError ?? true,
      reportBatchItemFailures: true,
      retryAttempts,
      maxRecordAgeSeconds,
      parallelizationFactor: 1,
      memoryMiB: 512,
      timeoutSeconds: 60,
      deadLetterPrefix: PREFIXES.deadLetters,
      maxFutureSkewMs: 24 * 60 * 60 * 1000,
    },
    producer: {
      functionName: `${base}-producer`,
      schedule,
      scheduleEnabled: o.scheduleEnabled ?? true,
      eventsPerInvocation,
      memoryMiB: 256,
      timeoutSeconds: 60,
    },
    failureQueueName: `${base}-aggregator-failures`,
  };
}

/**
 * Environment variables the stack gives the Lambdas; the local pipeline sets the same ones, so a
 * handler cannot tell which world it runs in.
 */
export const LAMBDA_ENV = {
  inputStream: 'INPUT_STREAM_NAME',
  outputStream: 'OUTPUT_STREAM_NAME',
  deadLetterBucket: 'DEAD_LETTER_BUCKET',
  deadLetterPrefix: 'DEAD_LETTER_PREFIX',
  windowSeconds: 'WINDOW_SECONDS',
  maxFutureSkewMs: 'MAX_FUTURE_SKEW_MS',
  eventsPerInvocation: 'EVENTS_PER_INVOCATION',
} as const;
