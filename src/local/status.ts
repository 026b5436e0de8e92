/**
 * Live counters of the local pipeline: returned by `handle.status()` in-process and persisted to
 * `<dataDir>/status.json` every second (for `paypipe doctor --local` and other processes).
 */
import type { ShardLag } from './event-source-mapping.js';
import { localPaths, readJson } from './files.js';
import type { SchedulerStatus } from './schedule.js';

export interface DeliveryStatus {
  name: string;
  recordsDelivered: number;
  objectsWritten: number;
  bufferedRecords: number;
  deliveryErrors: number;
  errorObjects: number;
  lastObjectKey: string | undefined;
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
  /** Last error a poller or delivery hit (they retry on their own). */
  lastError: string | undefined;
}

/** status.json as last written, or undefined when the pipeline never ran in this data dir. */
export async function readLocalStatus(dataDir: string): Promise<LocalStatus | undefined> {
  return readJson<LocalStatus>(localPaths(dataDir).status);
}
