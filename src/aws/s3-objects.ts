/**
 * Reading what Firehose wrote: list prefixes (s3.ts), then download many objects at once with
 * bounded concurrency (s3.ts's resumable bodies), each streamed through gunzip and the incremental
 * JSON decoder (src/pipeline/codec.ts), so memory stays flat however large the partition is.
 * Shared by `results`, `doctor` and `demo`.
 *
 * Failure model, per object, never for the whole run:
 * - a damaged object (empty, truncated or corrupt gzip, not JSON) → its DecodeError, plus every
 *   record before the damage (already handed to `onRecords`);
 * - an S3 error (5xx, SlowDown, reset) → the SDK retries the request; a body that dies mid-download
 *   is resumed with a ranged GET from the byte where it stopped (pinned to the ETag), so records are
 *   never delivered twice; when retries run out the object is reported with kind `s3`.
 */
import { type DecodeError, decodeObjectStream } from '../pipeline/codec.js';
import {
  forEachLimit,
  listObjects,
  type ObjectInfo,
  resumableBody,
  type S3Client,
  S3ReadError,
} from './s3.js';

// Listing and whole-object reads moved to s3.ts with every other S3 call; kept here for importers.
export { forEachLimit, getObjectBytes, listKeys, listObjects, type ObjectInfo } from './s3.js';

export type ObjectProblemKind = DecodeError['kind'] | 's3';

export interface ObjectOutcome {
  key: string;
  size: number;
  /** Records decoded (for a damaged object: the ones salvaged before the damage). */
  records: number;
  /** Bytes received from S3 (compressed, as stored). */
  bytes: number;
  /** GET requests made (1 unless a download was resumed or retried). */
  requests: number;
  problem?: { kind: ObjectProblemKind; message: string } | undefined;
}

export interface ReadObjectsOptions {
  /** Downloads in flight at once. Default 16. */
  concurrency?: number;
  /** Whole GETs (after the SDK's own retries) and body resumes allowed per object. Default 4. */
  maxAttempts?: number;
  /** Records as they complete, in object order within an object. May be async (backpressure). */
  onRecords: (records: unknown[], object: ObjectInfo) => void | Promise<void>;
  /** Called once per object when it is done (or given up). */
  onObject?: (outcome: ObjectOutcome) => void;
  signal?: AbortSignal;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Downloads and decodes the objects, `concurrency` at a time. Never throws for a bad object or an
 * S3 failure on one object: each ends as an ObjectOutcome (in the input order).
 */
export async function readObjects(
  client: S3Client,
  bucket: string,
  objects: readonly ObjectInfo[],
  opts: ReadObjectsOptions,
): Promise<ObjectOutcome[]> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const sleep = opts.sleep ?? defaultSleep;
  const outcomes: ObjectOutcome[] = new Array(objects.length);
  await forEachLimit(
    objects.map((obj, i) => [obj, i] as const),
    opts.concurrency ?? 16,
    async ([obj, i]) => {
      const stats = { bytes: 0, requests: 0 };
      let records = 0;
      let problem: ObjectOutcome['problem'];
      try {
        const r = await decodeObjectStream(
          resumableBody(client, bucket, obj, { maxAttempts, sleep, signal: opts.signal }, stats),
          obj.key,
          (recs) => {
            records += recs.length;
            return opts.onRecords(recs, obj);
          },
          obj.size,
        );
        records = r.count;
        if (r.error !== undefined) problem = { kind: r.error.kind, message: r.error.message };
      } catch (e) {
        if (!(e instanceof S3ReadError)) throw e;
        problem = { kind: 's3', message: `${obj.key}: ${e.message}` };
      }
      const outcome: ObjectOutcome = {
        key: obj.key,
        size: obj.size,
        records,
        bytes: stats.bytes,
        requests: stats.requests,
        problem,
      };
      outcomes[i] = outcome;
      opts.onObject?.(outcome);
    },
  );
  return outcomes;
}

export interface DecodedObjects {
  keys: string[];
  /** Every record, in key order and in object order within a key. */
  records: unknown[];
  errors: Array<{ key: string; kind: ObjectProblemKind; message: string }>;
}

/**
 * Every record of every object under `prefix`, collected in memory: for bounded data sets (the demo's
 * verification, tests). `results` streams through readObjects instead.
 */
export async function readRecords(
  client: S3Client,
  bucket: string,
  prefix: string,
  concurrency = 8,
): Promise<DecodedObjects> {
  const objects = await listObjects(client, bucket, [prefix]);
  const perKey = new Map<string, unknown[]>(objects.map((o) => [o.key, []]));
  const outcomes = await readObjects(client, bucket, objects, {
    concurrency,
    onRecords: (recs, obj) => {
      perKey.get(obj.key)?.push(...recs);
    },
  });
  const errors: DecodedObjects['errors'] = [];
  for (const o of outcomes) {
    if (o.problem !== undefined)
      errors.push({ key: o.key, kind: o.problem.kind, message: o.problem.message });
  }
  return { keys: objects.map((o) => o.key), records: [...perKey.values()].flat(), errors };
}
