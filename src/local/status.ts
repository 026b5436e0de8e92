/**
 * Live counters of the local pipeline: returned by `handle.status()` in-process and persisted to
 * `<dataDir>/status.json` every second (for `paypipe doctor --local` and other processes).
 */
import type { ShardLag } from './event-source-mapping.js';
import { localPaths, readJson } from './files.js';
import type { ParkedDelivery } from './firehose.js';
import type { SchedulerStatus } from './schedule.js';

/** A delivery that keeps failing, retried on its own every second; `fix` says what to do. */
export interface ParkedStatus extends ParkedDelivery {
  fix: string;
}

export interface DeliveryStatus {
  name: string;
  recordsDelivered: number;
  objectsWritten: number;
  bufferedRecords: number;
  deliveryErrors: number;
  errorObjects: number;
  lastObjectKey: string | undefined;
  /** Objects an earlier stop saved to `pending/` and that are not delivered yet (delivered first). */
  pendingObjects: number;
  /** Present while deliveries are parked (e.g. the bucket was deleted). */
  parked?: ParkedStatus;
}

/** Why the pipeline cannot go on (the runner stops it). */
export interface LocalFault {
  kind:
    | 'servers-lost'
    | 'data-dir-lost'
    | 'storage'
    | 'state'
    | 'internal'
    | 'access-denied'
    | 'function-init';
  message: string;
  hint: string;
}

/** How the last stop ended (in the status file a stopped pipeline leaves). */
export interface StopSummary {
  at: string;
  /** Everything read was delivered: nothing waits but on the streams. */
  complete: boolean;
  /** The stop's deadline (or a second signal) cut delivery short. */
  cutShort: boolean;
  /** Records the aggregator had read but not finished (they stay on the input stream). */
  unprocessed: number;
  pending: Array<{
    deliveryStream: string;
    records: number;
    objects: number;
    dir: string;
    unsaved?: { records: number; reason: string };
    reason?: string;
  }>;
}

/** One function as the local pipeline runs it (from the cloud assembly). */
export interface RunningFunction {
  functionName: string;
  handler: string;
  runtime: string;
  /** sha256 over the bundle's files, as loaded. */
  bundleHash: string;
  /** CDK's asset hash (the S3 key of the code a deploy uploads). */
  assetHash: string;
  timeoutSeconds: number;
  memoryMiB: number;
  /** Settings the run changed from the template (a local knob such as a test's timeout). */
  overridden?: string[];
}

export interface LocalStatus {
  pid: number;
  dataDir: string;
  startedAt: string;
  updatedAt: string;
  /** false in the file a stopped pipeline leaves behind. */
  running: boolean;
  endpoints: { kinesis: string; s3: string };
  /** Records the aggregator's event source mapping read from the input stream (since start). */
  eventsIn: number;
  /** Aggregate records the analytics Firehose delivered to S3 (since start). */
  aggregatesOut: number;
  /** Raw events the raw Firehose delivered to S3 (since start). */
  rawEventsDelivered: number;
  /** Records the aggregator put into dead-letter objects (since start; rewrites of a retried batch count once). */
  deadLettered: number;
  /** Lines in failed-batches.ndjson (all time). */
  failedBatches: number;
  /** Per shard of the input stream, as the aggregator's poller sees it. */
  lag: ShardLag[];
  aggregator: {
    invocations: number;
    errors: number;
    retries: number;
    partialFailures: number;
    bisections: number;
    expiredRecords: number;
    recoveredInFlight: number;
  };
  producer: { invocations: number; eventsSent: number; eventsFailed: number; lastError: string | undefined };
  firehose: { raw: DeliveryStatus; analytics: DeliveryStatus };
  schedule: SchedulerStatus | { enabled: false; expression: string; count: number };
  /**
   * The code that runs: per function, the cloud assembly's bundle (its hash, CDK's asset hash) and
   * the settings the template gives it (timeout and memory as the run uses them).
   */
  functions?: Record<'producer' | 'aggregator', RunningFunction>;
  /** The cloud assembly the functions were loaded from. */
  assembly?: string;
  /** SDK calls the local IAM check denied (since start; the first also ends the run as a fault). */
  accessDenied?: Array<{ functionName: string; action: string; resource: string; message: string }>;
  /** Last error a poller or delivery hit (they retry on their own). */
  lastError: string | undefined;
  /** Set when the pipeline hit a fault it cannot run through. */
  fault?: LocalFault;
  /** Set by the stop, in the file a stopped pipeline leaves. */
  stopped?: StopSummary;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Enough of the shape for readers not to trip over a damaged or foreign file. */
function checkStatus(v: unknown): LocalStatus | string {
  if (!isObject(v)) return 'not an object';
  for (const k of ['pid', 'eventsIn', 'aggregatesOut', 'failedBatches'] as const) {
    if (typeof v[k] !== 'number') return `"${k}" is not a number`;
  }
  if (typeof v.running !== 'boolean') return '"running" is not true/false';
  if (typeof v.updatedAt !== 'string' || Number.isNaN(Date.parse(v.updatedAt)))
    return '"updatedAt" is not a time';
  if (!Array.isArray(v.lag)) return '"lag" is not a list';
  const f = v.firehose;
  if (!isObject(f) || !isObject(f.raw) || !isObject(f.analytics)) return '"firehose" is missing';
  if (!isObject(v.aggregator) || !isObject(v.producer)) return '"aggregator" or "producer" is missing';
  return v as unknown as LocalStatus;
}

/**
 * status.json as last written, or undefined when the pipeline never ran in this data dir. A
 * damaged file is a DATA error naming it (a running `paypipe up` rewrites it within a second).
 */
export async function readLocalStatus(dataDir: string): Promise<LocalStatus | undefined> {
  return readJson<LocalStatus>(localPaths(dataDir).status, {
    validate: checkStatus,
    hint: 'a running `paypipe up` rewrites it every second; otherwise delete it (it only reports, nothing depends on it)',
  });
}
