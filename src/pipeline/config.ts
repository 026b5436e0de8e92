/**
 * The one pipeline configuration. The CDK stack (src/infra), the Lambda handlers (through the
 * environment the stack sets), the embedded local pipeline (src/local) and the CLI all read the
 * values from here, so a batch size or a prefix is changed in exactly one place.
 *
 * What a user may set is a flat list of settings (SETTINGS: type, allowed range, meaning). Their
 * values come from, most specific first: flags, the environment's section of paypipe.config.json,
 * the file's defaults, environment variables (AWS_REGION) and the built-in defaults below — see
 * config-file.ts for that merge. This module only knows the built-in layer: `resolveConfig(o)`
 * takes the already merged overrides, fills every other setting from the built-in defaults for the
 * environment, validates, and derives names, prefixes and the rest.
 *
 * Pure: no env, no clock, no files, no zod (the Lambda bundles import LAMBDA_ENV from here).
 */

export type CapacityMode = 'ON_DEMAND' | 'PROVISIONED';
export type StartingPosition = 'TRIM_HORIZON' | 'LATEST';
export type RemovalPolicySetting = 'retain' | 'destroy';

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
  /**
   * How every object's name ends (Firehose `FileExtension`; it replaces Firehose's own `.gz`):
   * `.json.gz`, so tools that guess the format from the name read JSON lines inside gzip.
   */
  readonly fileExtension: string;
  /**
   * Firehose appends a newline after every record (its `AppendDelimiterToRecord` processor, no
   * Lambda). On for the raw stream, whose records are events exactly as clients put them; off for
   * the analytics stream, whose records the aggregator already ends with a newline.
   */
  readonly appendNewline: boolean;
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
  /**
   * -1 (the default): retried until the records leave the stream, so an outage of the output side
   * shorter than the stream's retention loses nothing. A bounded number sends a batch that still
   * fails to the failure destination, from where `paypipe redrive` replays it.
   */
  readonly retryAttempts: number;
  /** -1 (the default): no age limit (the stream's retention applies). Else 60 to 604,800 s. */
  readonly maxRecordAgeSeconds: number;
  readonly parallelizationFactor: number;
  readonly memoryMiB: number;
  /**
   * The function timeout, and the aggregator's whole time budget: the handler derives its write
   * deadline and per-call SDK timeouts from what is left of it (src/pipeline/time-budget.ts).
   */
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

/** S3 lifecycle of the raw and analytics buckets (days are counted from object creation). */
export interface LifecycleSettings {
  /** Current versions move to Standard-IA after this many days; null: never. */
  readonly infrequentAccessAfterDays: number | null;
  /** …and to Glacier Flexible Retrieval after this many; null: never. */
  readonly glacierAfterDays: number | null;
  /**
   * Transitions apply only to objects larger than this (bytes). Smaller objects stay in Standard:
   * IA bills at least 128 KiB per object and Glacier adds ~40 KiB of metadata per object plus a
   * transition request each, so moving small objects costs more than it saves.
   */
  readonly transitionMinObjectSizeBytes: number;
  /** Current versions expire after this many days; null: kept until deleted by hand. */
  readonly expirationDays: number | null;
  /** Versions that were overwritten or deleted are removed after this many days. */
  readonly noncurrentVersionExpirationDays: number;
  /** Multipart uploads still incomplete after this many days are aborted (their parts deleted). */
  readonly abortIncompleteMultipartUploadDays: number;
}

/** Every value a user may set (in paypipe.config.json, or some by flags); the rest is derived. */
export interface Settings {
  project: string;
  region: string;
  tags: Record<string, string>;
  removalPolicy: RemovalPolicySetting;
  terminationProtection: boolean;
  kms: boolean;
  capacityMode: CapacityMode;
  shardCount: number;
  retentionHours: number;
  windowSeconds: number;
  batchSize: number;
  maxBatchingWindowSeconds: number;
  retryAttempts: number;
  maxRecordAgeSeconds: number;
  /** On by default (a poison batch is isolated); the merge stays exact either way (docs/windowing.md). */
  bisectBatchOnError: boolean;
  /**
   * The aggregator's function timeout, and its whole time budget: the handler derives its write
   * deadline and per-call SDK timeouts from what is left of it (src/pipeline/time-budget.ts).
   */
  aggregatorTimeoutSeconds: number;
  bufferIntervalSeconds: number;
  bufferSizeMiB: number;
  schedule: string;
  scheduleEnabled: boolean;
  eventsPerInvocation: number;
  infrequentAccessAfterDays: number | null;
  glacierAfterDays: number | null;
  transitionMinObjectSizeBytes: number;
  expirationDays: number | null;
  noncurrentVersionExpirationDays: number;
  abortIncompleteMultipartUploadDays: number;
  /** Alarms, their topic and the dashboard (on by default; see docs/infra.md). */
  monitoring: boolean;
  /** The Glue database and tables and the Athena workgroup (on by default; see docs/infra.md). */
  queryTables: boolean;
  /** Athena cancels a query of the workgroup once it has scanned more than this (bytes). */
  queryBytesScannedCutoff: number;
  alarmLagSeconds: number;
  alarmRejectPercent: number;
  alarmFreshnessSeconds: number;
  alarmEvaluationPeriods: number;
  alarmSubscription: string | null;
}

export type SettingKey = keyof Settings;

export interface PipelineConfig {
  readonly project: string;
  readonly environment: string;
  readonly region: string;
  /** `<project>-<environment>`. */
  readonly stackName: string;
  readonly tags: Readonly<Record<string, string>>;
  /** `destroy` lets a dev environment delete its buckets' objects on destroy; otherwise kept. */
  readonly removalPolicy: RemovalPolicySetting;
  /** CloudFormation termination protection of the stack (destroy must turn it off first). */
  readonly terminationProtection: boolean;
  /** A customer-managed KMS key for the data buckets and both streams (else AWS-managed keys). */
  readonly encryption: { readonly customerManagedKey: boolean };
  readonly lifecycle: LifecycleSettings;
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
  /** Alarm thresholds and who hears about them (src/pipeline/alarms.ts defines the alarms). */
  readonly alarms: AlarmSettings;
  /** Where the archive is queried: the Athena workgroup (the tables are src/pipeline/tables.ts). */
  readonly query: QuerySettings;
  /** The effective value of every setting (what `paypipe config` prints). */
  readonly settings: Readonly<Settings>;
}

export interface AlarmSettings {
  /** false: no alarms, topic or dashboard in the stack (the `monitoring` setting). */
  readonly enabled: boolean;
  readonly lagSeconds: number;
  readonly rejectPercent: number;
  readonly freshnessSeconds: number;
  readonly evaluationPeriods: number;
  readonly subscription: string | null;
}

export interface QuerySettings {
  /** false: no Glue database, tables or Athena workgroup in the stack (the `queryTables` setting). */
  readonly enabled: boolean;
  /** The Athena workgroup: `<stack>-query`. */
  readonly workGroupName: string;
  /** Athena's per-query data usage control (BytesScannedCutoffPerQuery), bytes. */
  readonly bytesScannedCutoffPerQuery: number;
  /** Days Athena's query results are kept in the workgroup's results bucket. */
  readonly resultsExpirationDays: number;
}

/** What a caller passes: any settings (already merged from flags and the file) and the environment. */
export interface ConfigOverrides extends Partial<Settings> {
  environment?: string;
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

/** How archive objects end: gzip-compressed JSON lines. */
export const ARCHIVE_FILE_EXTENSION = '.json.gz';

/** Project and environment names: they become stack, stream and function names. */
export const NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;
export const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;
const SCHEDULE_PATTERN = /^(rate|cron)\(.+\)$/;
export const ALARM_SUBSCRIPTION_PATTERN =
  /^([^@\s"<>]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}|https:\/\/[^\s]{1,2000}|arn:aws[a-z-]*:(sqs|lambda):[a-z0-9-]+:\d{12}:[A-Za-z0-9_:.-]{1,256})$/;

/** How SNS delivers to a subscription endpoint of ALARM_SUBSCRIPTION_PATTERN. */
export function subscriptionProtocol(endpoint: string): 'email' | 'https' | 'sqs' | 'lambda' {
  if (endpoint.startsWith('https://')) return 'https';
  if (/^arn:aws[a-z-]*:sqs:/.test(endpoint)) return 'sqs';
  if (/^arn:aws[a-z-]*:lambda:/.test(endpoint)) return 'lambda';
  return 'email';
}

// ---------------------------------------------------------------------------------------------
// What may be set, and to what

export type SettingSpec = { readonly doc: string } & (
  | {
      readonly kind: 'int';
      readonly min: number;
      readonly max: number;
      /** -1 is also allowed and means "no limit". */
      readonly unlimited?: string;
      /** null is also allowed and means what this says ("never"). */
      readonly nullMeans?: string;
      readonly unit?: string;
    }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | {
      readonly kind: 'text';
      readonly pattern: RegExp;
      readonly like: string;
      /** null is also allowed and means what this says. */
      readonly nullMeans?: string;
    }
  | { readonly kind: 'tags' }
);

export const SETTINGS: { readonly [K in SettingKey]: SettingSpec } = {
  project: {
    kind: 'text',
    pattern: NAME_PATTERN,
    like: 'a lower-case name of at most 20 characters (a-z, 0-9, "-"), starting with a letter',
    doc: 'Project name; the stack is <project>-<environment>',
  },
  region: {
    kind: 'text',
    pattern: REGION_PATTERN,
    like: 'an AWS region name like ap-southeast-2',
    doc: 'AWS region of the stack',
  },
  tags: { kind: 'tags', doc: 'Extra tags on every taggable resource' },
  removalPolicy: {
    kind: 'enum',
    values: ['retain', 'destroy'],
    doc: 'What `paypipe destroy` does to the buckets and the KMS key: keep them (retain) or delete them with every object (destroy)',
  },
  terminationProtection: {
    kind: 'bool',
    doc: 'CloudFormation termination protection of the stack',
  },
  kms: {
    kind: 'bool',
    doc: 'Encrypt the data buckets and both streams with a customer-managed KMS key of this environment (rotated yearly, use audited in CloudTrail); false: AWS-managed keys',
  },
  capacityMode: {
    kind: 'enum',
    values: ['PROVISIONED', 'ON_DEMAND'],
    doc: 'Kinesis capacity mode of both streams',
  },
  shardCount: {
    kind: 'int',
    min: 1,
    max: 500,
    doc: 'Input stream shards (PROVISIONED; also the local stream)',
  },
  retentionHours: {
    kind: 'int',
    min: 24,
    max: 8760,
    unit: 'h',
    doc: 'How long both streams keep records; also how long `paypipe redrive` can replay a failed batch',
  },
  windowSeconds: { kind: 'int', min: 1, max: 3600, unit: 's', doc: 'Tumbling window width (event time)' },
  batchSize: { kind: 'int', min: 1, max: 10000, doc: 'Records per aggregator invocation at most' },
  maxBatchingWindowSeconds: {
    kind: 'int',
    min: 0,
    max: 300,
    unit: 's',
    doc: 'How long the event source mapping gathers records before invoking',
  },
  retryAttempts: {
    kind: 'int',
    min: 0,
    max: 10000,
    unlimited: 'until the records leave the stream',
    doc: 'Retries of a failing batch before it goes to the failure destination',
  },
  maxRecordAgeSeconds: {
    kind: 'int',
    min: 60,
    max: 604800,
    unlimited: 'no limit: the stream retention applies',
    unit: 's',
    doc: 'Records older than this go to the failure destination instead of the aggregator',
  },
  bisectBatchOnError: {
    kind: 'bool',
    doc: 'Split a batch that fails with a function error and retry the halves (see docs/windowing.md)',
  },
  aggregatorTimeoutSeconds: {
    kind: 'int',
    // Lambda allows up to 900 s; under 3 s the budget leaves no room for one write attempt.
    min: 3,
    max: 900,
    unit: 's',
    doc: "The aggregator's timeout; its write deadline and SDK call timeouts derive from it (docs/windowing.md)",
  },
  bufferIntervalSeconds: {
    kind: 'int',
    min: 0,
    max: 900,
    unit: 's',
    doc: 'Firehose buffer interval (both delivery streams)',
  },
  bufferSizeMiB: { kind: 'int', min: 1, max: 128, unit: 'MiB', doc: 'Firehose buffer size (both)' },
  schedule: {
    kind: 'text',
    pattern: SCHEDULE_PATTERN,
    like: 'an EventBridge expression like rate(1 minute) or cron(0/5 * * * ? *)',
    doc: "The producer's schedule",
  },
  scheduleEnabled: { kind: 'bool', doc: 'Whether the schedule is enabled' },
  eventsPerInvocation: {
    kind: 'int',
    min: 1,
    max: 100000,
    doc: 'Events the producer sends per scheduled run',
  },
  infrequentAccessAfterDays: {
    kind: 'int',
    min: 30,
    max: 36500,
    nullMeans: 'never',
    unit: 'd',
    doc: 'Data objects move to Standard-IA after this many days',
  },
  glacierAfterDays: {
    kind: 'int',
    min: 1,
    max: 36500,
    nullMeans: 'never',
    unit: 'd',
    doc: 'Data objects move to Glacier Flexible Retrieval after this many days',
  },
  transitionMinObjectSizeBytes: {
    kind: 'int',
    min: 0,
    max: 5_000_000_000_000,
    unit: 'B',
    doc: 'Only objects larger than this are transitioned (smaller ones cost more in IA/Glacier than in Standard)',
  },
  expirationDays: {
    kind: 'int',
    min: 1,
    max: 36500,
    nullMeans: 'never',
    unit: 'd',
    doc: 'Data objects expire (are deleted, recoverable as noncurrent versions) after this many days',
  },
  noncurrentVersionExpirationDays: {
    kind: 'int',
    min: 1,
    max: 36500,
    unit: 'd',
    doc: 'Overwritten or deleted object versions are removed after this many days',
  },
  abortIncompleteMultipartUploadDays: {
    kind: 'int',
    min: 1,
    max: 365,
    unit: 'd',
    doc: 'Incomplete multipart uploads are aborted (their parts deleted) after this many days',
  },
  monitoring: {
    kind: 'bool',
    doc: 'CloudWatch alarms (with their SNS topic) and the dashboard; false leaves them out of the stack',
  },
  queryTables: {
    kind: 'bool',
    doc: 'The Glue database and tables over the archive (partition projection) and the Athena workgroup; false leaves them out of the stack',
  },
  queryBytesScannedCutoff: {
    kind: 'int',
    // Athena's own floor for the per-query limit is 10 MB.
    min: 10_000_000,
    max: 1_000_000_000_000_000,
    unit: 'B',
    doc: 'Athena cancels a query in the workgroup once it has scanned more than this many bytes (BytesScannedCutoffPerQuery)',
  },
  alarmLagSeconds: {
    kind: 'int',
    min: 60,
    max: 604800,
    unit: 's',
    doc: "Alarm when the aggregator's iterator age (how far behind the input stream it is) stays above this",
  },
  alarmRejectPercent: {
    kind: 'int',
    min: 1,
    max: 100,
    unit: '%',
    doc: 'Alarm when more than this share of the records read is rejected (dead-lettered) in a period',
  },
  alarmFreshnessSeconds: {
    kind: 'int',
    min: 60,
    max: 86400,
    unit: 's',
    doc: "Alarm when a Firehose's oldest undelivered record is older than this (DeliveryToS3.DataFreshness)",
  },
  alarmEvaluationPeriods: {
    kind: 'int',
    min: 1,
    max: 60,
    doc: 'One-minute periods a condition must hold before its alarm fires',
  },
  alarmSubscription: {
    kind: 'text',
    pattern: ALARM_SUBSCRIPTION_PATTERN,
    like: 'an email address, an https:// URL, or an SQS queue or Lambda function ARN',
    nullMeans: 'no subscription: alarms go to the topic only',
    doc: 'Who the alarm topic notifies: an email address (confirmed from the mail AWS sends), an https:// endpoint, or an SQS queue / Lambda function ARN',
  },
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/**
 * The built-in defaults: production-grade for every environment (no data loss within the stream's
 * retention, a customer-managed key, termination protection, data retained)…
 */
export const BUILTIN_DEFAULTS: Readonly<Settings> = {
  project: 'paypipe',
  region: DEFAULT_REGION,
  tags: {},
  removalPolicy: 'retain',
  terminationProtection: true,
  kms: true,
  capacityMode: 'PROVISIONED',
  shardCount: 2,
  retentionHours: 168,
  windowSeconds: 60,
  batchSize: 500,
  maxBatchingWindowSeconds: 0,
  retryAttempts: -1,
  maxRecordAgeSeconds: -1,
  bisectBatchOnError: true,
  aggregatorTimeoutSeconds: 60,
  // Freshness over file count: Firehose's minimum interval is 0 s (we default to 60 s, 1 MiB).
  bufferIntervalSeconds: 60,
  bufferSizeMiB: 1,
  schedule: 'rate(1 minute)',
  scheduleEnabled: true,
  eventsPerInvocation: 100,
  infrequentAccessAfterDays: 30,
  glacierAfterDays: 90,
  // S3's own default floor for transitions since 2024; stated so the rule says what it does.
  transitionMinObjectSizeBytes: 128 * 1024,
  expirationDays: null,
  noncurrentVersionExpirationDays: 30,
  abortIncompleteMultipartUploadDays: 7,
  // Five windows behind; a reject share that is not a stray bad record; a Firehose 15 minutes late.
  monitoring: true,
  queryTables: true,
  // 10 GiB: a month of raw events at the producer's default rate is well under 1 GiB (gzip), so
  // only a query that forgot its partition filter gets near it; that costs 5 cents at $5/TB.
  queryBytesScannedCutoff: 10 * 1024 ** 3,
  alarmLagSeconds: 300,
  alarmRejectPercent: 5,
  alarmFreshnessSeconds: 900,
  alarmEvaluationPeriods: 3,
  alarmSubscription: null,
};

/** …except `dev`, which is disposable: cheap to run and deletable in one command. */
export const BUILTIN_ENVIRONMENTS: Readonly<Record<string, Partial<Settings>>> = {
  dev: {
    removalPolicy: 'destroy',
    terminationProtection: false,
    kms: false,
    retentionHours: 24,
    // Dev data is short-lived: deleted after 30 days, never worth a storage-class transition.
    expirationDays: 30,
    infrequentAccessAfterDays: null,
    glacierAfterDays: null,
  },
};

/** The built-in value of a setting for an environment, and which built-in layer gave it. */
export function builtinSetting<K extends SettingKey>(
  key: K,
  environment: string,
): { value: Settings[K]; layer: 'environment' | 'defaults' } {
  const env = Object.hasOwn(BUILTIN_ENVIRONMENTS, environment)
    ? BUILTIN_ENVIRONMENTS[environment]
    : undefined;
  if (env !== undefined && Object.hasOwn(env, key)) {
    return { value: env[key] as Settings[K], layer: 'environment' };
  }
  return { value: BUILTIN_DEFAULTS[key], layer: 'defaults' };
}

/** "a whole number from 24 to 8760", "-1 (no limit: …) or a whole number from 60 to 604800", … */
export function allowedValues(spec: SettingSpec): string {
  switch (spec.kind) {
    case 'int': {
      const range = `a whole number from ${spec.min} to ${spec.max}`;
      if (spec.unlimited !== undefined) return `-1 (${spec.unlimited}) or ${range}`;
      if (spec.nullMeans !== undefined) return `null (${spec.nullMeans}) or ${range}`;
      return range;
    }
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${spec.values.map((v) => `"${v}"`).join(', ')}`;
    case 'text':
      return spec.nullMeans === undefined ? spec.like : `null (${spec.nullMeans}) or ${spec.like}`;
    case 'tags':
      return 'an object of tag names (1-128 characters, not starting with "aws:") to string values (at most 256 characters)';
  }
}

/** A value as the user wrote it, for error messages (cut short, one line). */
export function showValue(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'nothing' : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  s = s.replace(/[\r\n]+/g, ' ');
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

const TAG_KEY = /^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

/** Whether `v` is an allowed value of the setting `key` (the one check the file and flags share). */
export function isAllowed(key: SettingKey, v: unknown): boolean {
  const spec: SettingSpec = SETTINGS[key];
  switch (spec.kind) {
    case 'int':
      if (v === null) return spec.nullMeans !== undefined;
      if (v === -1 && spec.unlimited !== undefined) return true;
      return typeof v === 'number' && Number.isInteger(v) && v >= spec.min && v <= spec.max;
    case 'bool':
      return typeof v === 'boolean';
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v);
    case 'text':
      if (v === null) return spec.nullMeans !== undefined;
      return typeof v === 'string' && spec.pattern.test(v);
    case 'tags':
      return (
        typeof v === 'object' &&
        v !== null &&
        !Array.isArray(v) &&
        Object.entries(v).every(([k, x]) => TAG_KEY.test(k) && typeof x === 'string' && TAG_VALUE.test(x))
      );
  }
}

/** The one-line complaint about a value of `key` ("retentionHours must be …, got 12"). */
export function settingProblem(key: SettingKey, v: unknown, where: string = key): string | undefined {
  if (isAllowed(key, v)) return undefined;
  return `${where} must be ${allowedValues(SETTINGS[key])}, got ${showValue(v)}`;
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Checks between settings, each naming both keys and values. Returns the first problem with the
 * setting it is charged to (the later one in the pair), or undefined.
 */
export function crossSettingProblem(s: Settings): { key: SettingKey; message: string } | undefined {
  const ia = s.infrequentAccessAfterDays;
  const glacier = s.glacierAfterDays;
  // S3 keeps an object in Standard-IA at least 30 days before a further transition.
  if (ia !== null && glacier !== null && glacier < ia + 30) {
    return {
      key: 'glacierAfterDays',
      message: `glacierAfterDays (${glacier}) must be at least infrequentAccessAfterDays (${ia}) + 30, or null`,
    };
  }
  const lastTransition = Math.max(ia ?? 0, glacier ?? 0);
  if (s.expirationDays !== null && lastTransition > 0 && s.expirationDays <= lastTransition) {
    return {
      key: 'expirationDays',
      message: `expirationDays (${s.expirationDays}) must be greater than the last transition (${lastTransition} days), or the transitions set to null`,
    };
  }
  return undefined;
}

export function resolveConfig(o: ConfigOverrides = {}): PipelineConfig {
  const environment = o.environment ?? 'dev';
  if (!NAME_PATTERN.test(environment)) {
    throw new ConfigError(
      'environment',
      `environment "${environment}" must start with a letter and use only a-z, 0-9 and "-" (at most 20 characters)`,
    );
  }
  const s = {} as Record<SettingKey, unknown>;
  for (const key of SETTING_KEYS) {
    const given = o[key];
    const v = given === undefined ? builtinSetting(key, environment).value : given;
    const problem = settingProblem(key, v);
    if (problem !== undefined) {
      throw new ConfigError(
        key,
        key === 'project' || key === 'region'
          ? `${key} "${String(v)}" is not ${allowedValues(SETTINGS[key])}`
          : problem,
      );
    }
    s[key] = v;
  }
  const settings = s as unknown as Settings;
  const cross = crossSettingProblem(settings);
  if (cross !== undefined) throw new ConfigError(cross.key, cross.message);

  const { project, region } = settings;
  const base = `${project}-${environment}`;

  const delivery = (
    name: string,
    prefix: string,
    errorPrefix: string,
    appendNewline: boolean,
  ): DeliverySettings => ({
    name,
    prefix: prefix + hivePartition,
    // Outside the data prefix, so a table over data/ (or aggregations/) never reads error output.
    errorPrefix: `${errorPrefix}!{firehose:error-output-type}/${hivePartition}`,
    bufferIntervalSeconds: settings.bufferIntervalSeconds,
    bufferSizeMiB: settings.bufferSizeMiB,
    compression: 'GZIP',
    fileExtension: ARCHIVE_FILE_EXTENSION,
    appendNewline,
  });
  const stream = (name: string, shardCount: number): StreamSettings => ({
    name,
    capacityMode: settings.capacityMode,
    shardCount,
    retentionHours: settings.retentionHours,
  });

  return {
    project,
    environment,
    region,
    stackName: base,
    tags: { Project: project, Environment: environment, ManagedBy: 'paypipe', ...settings.tags },
    removalPolicy: settings.removalPolicy,
    terminationProtection: settings.terminationProtection,
    encryption: { customerManagedKey: settings.kms },
    lifecycle: {
      infrequentAccessAfterDays: settings.infrequentAccessAfterDays,
      glacierAfterDays: settings.glacierAfterDays,
      transitionMinObjectSizeBytes: settings.transitionMinObjectSizeBytes,
      expirationDays: settings.expirationDays,
      noncurrentVersionExpirationDays: settings.noncurrentVersionExpirationDays,
      abortIncompleteMultipartUploadDays: settings.abortIncompleteMultipartUploadDays,
    },
    streams: {
      input: stream(`${base}-input-stream`, settings.shardCount),
      output: stream(`${base}-output-stream`, 1),
    },
    buckets: { raw: `${base}-raw-data`, analytics: `${base}-analytics-results` },
    firehose: {
      // Raw events are kept byte for byte as clients put them, each followed by a newline that
      // Firehose adds: JSON lines any reader can split (docs/infra.md#the-archive).
      raw: delivery(`${base}-raw-firehose`, PREFIXES.raw, PREFIXES.rawErrors, true),
      // Batch outputs already end with a newline (src/domain/batch-output.ts); a second one
      // would put an empty line after each record.
      analytics: delivery(
        `${base}-analytics-firehose`,
        PREFIXES.aggregations,
        PREFIXES.aggregationErrors,
        false,
      ),
    },
    aggregator: {
      functionName: `${base}-aggregator`,
      windowSeconds: settings.windowSeconds,
      batchSize: settings.batchSize,
      maxBatchingWindowSeconds: settings.maxBatchingWindowSeconds,
      startingPosition: 'TRIM_HORIZON',
      bisectBatchOnError: settings.bisectBatchOnError,
      reportBatchItemFailures: true,
      retryAttempts: settings.retryAttempts,
      maxRecordAgeSeconds: settings.maxRecordAgeSeconds,
      parallelizationFactor: 1,
      memoryMiB: 512,
      timeoutSeconds: settings.aggregatorTimeoutSeconds,
      deadLetterPrefix: PREFIXES.deadLetters,
      maxFutureSkewMs: 24 * 60 * 60 * 1000,
    },
    producer: {
      functionName: `${base}-producer`,
      schedule: settings.schedule,
      scheduleEnabled: settings.scheduleEnabled,
      eventsPerInvocation: settings.eventsPerInvocation,
      memoryMiB: 256,
      timeoutSeconds: 60,
    },
    failureQueueName: `${base}-aggregator-failures`,
    alarms: {
      enabled: settings.monitoring,
      lagSeconds: settings.alarmLagSeconds,
      rejectPercent: settings.alarmRejectPercent,
      freshnessSeconds: settings.alarmFreshnessSeconds,
      evaluationPeriods: settings.alarmEvaluationPeriods,
      subscription: settings.alarmSubscription,
    },
    query: {
      enabled: settings.queryTables,
      workGroupName: `${base}-query`,
      bytesScannedCutoffPerQuery: settings.queryBytesScannedCutoff,
      resultsExpirationDays: 30,
    },
    settings,
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
  /** The metrics' environment dimension: the stack name. */
  environment: 'PAYPIPE_ENVIRONMENT',
} as const;
