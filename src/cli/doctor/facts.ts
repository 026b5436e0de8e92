/**
 * What `paypipe doctor` knows about one pipeline, deployed or local: the one input of every check.
 * The gatherers fill it (gather-aws.ts from the AWS APIs, gather-local.ts from the local pipeline's
 * servers and files); checks.ts judges it. Types only.
 *
 * Every fact is either known or missing, and a missing fact says why, because each reason reads
 * differently in the report (checks.ts turns them into results the same way for every check):
 * - `not-here`: the question has no meaning for this target (IAM credentials locally) → n/a;
 * - `skipped`: not gathered, because an earlier fact stopped the report (no credentials, no
 *   stack, no local pipeline) or nobody asked (no `--probe`) → the check is left out;
 * - `denied`: the API refused; the pipeline may be fine, doctor just cannot see → warn;
 * - `failed`: anything else went wrong while gathering → fail.
 */
import type { PipelineConfig } from '../../pipeline/config.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';

export type Target = 'aws' | 'local';

export type Missing =
  | { kind: 'not-here'; why: string }
  | { kind: 'skipped'; why: string }
  | { kind: 'denied'; error: string; permission: string }
  | { kind: 'failed'; error: string };

export type Fact<T> = { known: true; value: T } | { known: false; missing: Missing };

/**
 * The flags the user gave to pick this target, kept in every command a fix suggests so that it
 * works when pasted. Only flags whose value differs from the default are kept.
 */
export type Invocation =
  | { target: 'local'; dataDir?: string | undefined }
  | {
      target: 'aws';
      env?: string | undefined;
      project?: string | undefined;
      region?: string | undefined;
      profile?: string | undefined;
      stack?: string | undefined;
    };

export interface DoctorFacts {
  target: Target;
  /** What was checked: `stack paypipe-dev in ap-southeast-2`, `local pipeline in /path`. */
  subject: string;
  /** The configuration the deployed or local pipeline should match; thresholds derive from it. */
  config: PipelineConfig;
  invocation: Invocation;
  /** `--max-lag`, `--stale-after` when given. */
  limits: { maxLagMs?: number | undefined; staleAfterMs?: number | undefined };

  /** Local: is the `paypipe up` process alive. */
  localPipeline: Fact<LocalPipelineFact>;
  /** Local: do kinesalite and s3rver answer. */
  localServers: Fact<LocalServersFact>;
  identity: Fact<IdentityFact>;
  region: Fact<RegionFact>;
  stack: Fact<StackFact>;
  /** The stack's outputs doctor needs to find the resources. */
  stackOutputs: Fact<StackOutputsFact>;
  streams: { input: Fact<StreamFact>; output: Fact<StreamFact> };
  delivery: { raw: Fact<DeliveryFact>; analytics: Fact<DeliveryFact> };
  /** The query tables in the Glue Data Catalog (AWS; the local pipeline has no catalog). */
  tables: Fact<QueryTablesFact>;
  /** What reads the input stream for the aggregator: the deployed mapping, or the local poller. */
  consumer: Fact<ConsumerFact>;
  failedBatches: Fact<FailedBatchesFact>;
  deadLetters: Fact<DeadLettersFact>;
  lag: { stream: Fact<LagFact>; aggregator: Fact<LagFact> };
  errors: { aggregator: Fact<FunctionErrorsFact>; producer: Fact<FunctionErrorsFact> };
  /** The newest object under `data/` (raw) and `aggregations/`, current and previous hour partitions. */
  newest: { raw: Fact<NewestObjectFact>; aggregations: Fact<NewestObjectFact> };
  /** Local: how long ago `paypipe up` started (no object yet is no fault in a young pipeline). */
  pipelineAgeMs: Fact<number>;
  schedule: Fact<ScheduleFact>;
  /** The last hour's figures and the alarm states (CloudWatch, or the local functions' metrics). */
  metrics: Fact<PipelineMetrics>;
  probe: Fact<ProbeFact>;
  /** Local: the function bundles running and the last `paypipe synth` (absent on AWS: `paypipe diff`). */
  bundles?: Fact<BundlesFact>;
}

/** Which code the local functions run, and whether it is what the last synth (cdk.out) holds. */
export interface BundlesFact {
  /** The cloud assembly the running pipeline loaded. */
  assembly: string;
  functions: Array<{ role: string; functionName: string; bundleHash: string; assetHash: string }>;
  /** The last `paypipe synth` output in the working directory, if any. */
  lastSynth?:
    | { dir: string; synthesizedAt: string; bundleHashes: Record<string, string> }
    | { dir: string; problem: string }
    | undefined;
  /** Calls the local IAM check denied since the pipeline started. */
  accessDenied: number;
}

export type LocalPipelineFact =
  | { running: true; pid: number; dataDir: string }
  | { running: false; reason: string; lastStatusAt?: string | undefined };

export interface LocalServersFact {
  kinesisEndpoint: string;
  s3Endpoint: string;
  /** Where the servers log (their child process's output). */
  logFile: string;
  /** Set when either server did not answer. */
  error?: string | undefined;
}

export type IdentityFact =
  | { ok: true; account: string; arn: string }
  | { ok: false; error: string /** The STS endpoint could not be reached at all. */; network: boolean };

/** The region and where it came from, or why none could be used (the resolver's words). */
export type RegionFact =
  | {
      region: string;
      /** `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, `profile dev`, `paypipe default`. */
      source: string;
    }
  | { problem: string; hint?: string | undefined };

export interface StackFact {
  name: string;
  /** undefined when the stack does not exist (or was deleted). */
  status?: string | undefined;
  reason?: string | undefined;
  /** DescribeStacks failed for another reason than a missing stack (one line, naming the call). */
  error?: string | undefined;
}

export interface StackOutputsFact {
  stackName: string;
  status: string;
  /** Required outputs the stack lacks (a stack mid-deploy, from another paypipe, or a partial deploy). */
  missing: string[];
  /** The paypipe version that deployed the stack (its PaypipeVersion output), when recorded. */
  version?: string | undefined;
  /** This CLI's version, to compare with. */
  cliVersion: string;
}

export interface StreamFact {
  name: string;
  /** undefined when the stream does not exist. */
  status?: string | undefined;
  openShards?: number | undefined;
  mode?: string | undefined;
}

export type DeliveryFact =
  | {
      kind: 'firehose';
      name: string;
      /** undefined when the delivery stream does not exist. */
      status?: string | undefined;
      failure?: string | undefined;
    }
  | {
      kind: 'local';
      name: string;
      running: boolean;
      recordsDelivered: number;
      objectsWritten: number;
      bufferedRecords: number;
      /** Delivery attempts that failed and were retried. */
      deliveryErrors: number;
      /** Objects written under errors/ (records given up on). */
      errorObjects: number;
      logFile: string;
      lastError?: string | undefined;
      /** Set while deliveries are parked: S3 keeps refusing them, they are retried every second. */
      parked?:
        | { kind: 'bucket-missing' | 'refused'; bucket: string; reason: string; since: string }
        | undefined;
      /** The local S3 endpoint (for the command that recreates a bucket). */
      s3Endpoint?: string | undefined;
    };

export interface QueryTablesFact {
  /** The stack's GlueDatabaseName output; undefined when the stack has none (deployed before the tables). */
  database?: string | undefined;
  /** The stack's buckets: the tables must read the prefixes the stack writes in them. */
  buckets: { raw: string; analytics: string };
  /** Each table of src/pipeline/tables.ts as Glue has it; absent: no such table. */
  tables: Record<string, { location?: string | undefined; parameters: Record<string, string> } | undefined>;
}

/** The fields of Lambda's EventSourceMappingConfiguration the lint reads (the SDK's names). */
export interface EventSourceMappingFacts {
  UUID?: string | undefined;
  State?: string | undefined;
  StateTransitionReason?: string | undefined;
  LastProcessingResult?: string | undefined;
  BatchSize?: number | undefined;
  MaximumBatchingWindowInSeconds?: number | undefined;
  BisectBatchOnFunctionError?: boolean | undefined;
  MaximumRetryAttempts?: number | undefined;
  MaximumRecordAgeInSeconds?: number | undefined;
  DestinationConfig?: { OnFailure?: { Destination?: string | undefined } | undefined } | undefined;
  FunctionResponseTypes?: string[] | undefined;
  StartingPosition?: string | undefined;
  ParallelizationFactor?: number | undefined;
}

export type ConsumerFact =
  | {
      kind: 'mapping';
      functionName: string;
      /** The aggregator's mappings whose source is the input stream (normally exactly one). */
      mappings: EventSourceMappingFacts[];
    }
  | {
      kind: 'poller';
      running: boolean;
      pid: number;
      /** Since status.json was last rewritten (every second while the pipeline runs). */
      statusAgeMs: number;
      shards: number;
      recordsRead: number;
      invocations: number;
      retries: number;
    };

export interface FailedBatchesFact {
  /** `SQS <queue>` or `failed-batches.ndjson`. */
  where: string;
  /** undefined when the count could not be read. */
  count?: number | undefined;
}

export interface DeadLettersFact {
  where: string;
  /** Dead-letter objects written in the last hour. */
  objects: number;
  /** Records in them; undefined when there were too many objects to download. */
  records?: number | undefined;
}

export interface LagFact {
  /** What was measured; the evidence reads `<label> <age>`. */
  label: string;
  /** undefined: no datapoints. */
  ageMs?: number | undefined;
}

export interface FunctionErrorsFact {
  functionName: string;
  /** The period counted, ending now. */
  periodMs: number;
  invocations?: number | undefined;
  errors: number;
  throttles?: number | undefined;
}

export interface NewestObjectFact {
  /** `s3://bucket/prefix` on AWS, `bucket/prefix` locally. */
  where: string;
  /** undefined: no object in the current or previous hour partition. */
  ageMs?: number | undefined;
}

export interface ScheduleFact {
  name: string;
  /** undefined when the rule does not exist. */
  enabled?: boolean | undefined;
  expression?: string | undefined;
  count?: number | undefined;
}

export interface ProbeHop {
  name: string;
  /** Latency from sending the canary, when the hop was reached. */
  latencyMs?: number | undefined;
}

export interface ProbeFact {
  marker: string;
  currency: string;
  windowStart: string;
  hops: ProbeHop[];
  timeoutMs: number;
}
