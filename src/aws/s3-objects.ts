/**
 * Reading what Firehose wrote: list prefixes (paginated, any number of keys), then download many
 * objects at once with bounded concurrency, each streamed through gunzip and the incremental
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
import type { GetObjectCommandOutput, ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { type DecodeError, decodeObjectStream } from '../pipeline/codec.js';
import { PaypipeError } from '../errors.js';

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date | undefined;
}

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

const errName = (e: unknown): string => (e as { name?: string }).name ?? '';
const errMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

/** Maps listing errors on the bucket to one-line PaypipeErrors. */
function bucketError(e: unknown, bucket: string): unknown {
  const name = errName(e);
  if (name === 'NoSuchBucket') {
    return new PaypipeError('CONFIG', `bucket ${bucket} does not exist`, {
      hint: 'check --bucket and the region, or deploy/start the pipeline',
      cause: e,
    });
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || name === 'AllAccessDisabled') {
    return new PaypipeError('AWS', `access denied listing bucket ${bucket}`, {
      hint: 'the credentials in use need s3:ListBucket and s3:GetObject on it',
      cause: e,
    });
  }
  if (isPaypipe(e)) return e;
  return new PaypipeError('AWS', `listing bucket ${bucket} failed: ${name || 'Error'}: ${errMessage(e)}`, {
    hint: 'check the network/endpoint and try again (--debug shows details)',
    cause: e,
  });
}

const isPaypipe = (e: unknown): e is PaypipeError => e instanceof PaypipeError;

/** Every object under `prefix`, page by page (ListObjectsV2 returns at most 1,000 keys per call). */
export async function* listObjectPages(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<ObjectInfo[], void, undefined> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  let token: string | undefined;
  do {
    let out: ListObjectsV2CommandOutput;
    try {
      out = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
    } catch (e) {
      throw bucketError(e, bucket);
    }
    const page: ObjectInfo[] = [];
    for (const o of out.Contents ?? []) {
      if (o.Key === undefined) continue;
      page.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
    }
    yield page;
    token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** All objects under several prefixes (listed in parallel), sorted by key. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefixes: readonly string[],
  opts: { signal?: AbortSignal; concurrency?: number } = {},
): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  await forEachLimit(prefixes, opts.concurrency ?? 8, async (prefix) => {
    for await (const page of listObjectPages(client, bucket, prefix, opts.signal)) out.push(...page);
  });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
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

class S3ReadError extends Error {
  constructor(
    message: string,
    readonly causeName: string,
  ) {
    super(message);
  }
}

/**
 * The bytes of one object as a stream that survives connection failures: a body that dies
 * mid-download is resumed from the next byte with `Range` + `If-Match` (so a concurrently
 * replaced object is never spliced with its successor).
 */
async function* resumableBody(
  client: S3Client,
  bucket: string,
  obj: ObjectInfo,
  o: { maxAttempts: number; sleep: (ms: number) => Promise<void>; signal?: AbortSignal | undefined },
  stats: { bytes: number; requests: number },
): AsyncGenerator<Uint8Array, void, undefined> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  let offset = 0;
  let etag: string | undefined;
  let total: number | undefined;
  let failures = 0;
  for (;;) {
    let res: GetObjectCommandOutput;
    try {
      stats.requests++;
      res = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: obj.key,
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          ...(etag !== undefined ? { IfMatch: etag } : {}),
        }),
        o.signal === undefined ? {} : { abortSignal: o.signal },
      );
    } catch (e) {
      const name = errName(e);
      if (name === 'NoSuchKey') throw new S3ReadError('object was deleted while reading', name);
      if (name === 'PreconditionFailed') throw new S3ReadError('object was replaced while reading', name);
      if (name === 'AccessDenied') throw new S3ReadError('access denied (s3:GetObject)', name);
      if (name === 'InvalidRange' && offset > 0 && total !== undefined && offset >= total) return;
      if (++failures >= o.maxAttempts || o.signal?.aborted === true) {
        throw new S3ReadError(
          `GetObject failed after ${failures} attempts: ${name || 'Error'}: ${errMessage(e)}`,
          name,
        );
      }
      await o.sleep(Math.min(2000, 100 * 2 ** failures) * (0.5 + Math.random() / 2));
      continue;
    }
    etag ??= res.ETag;
    if (total === undefined) {
      // Content-Range: bytes 100-199/200 on a resumed read; ContentLength on the first one.
      const m = /\/(\d+)$/.exec(res.ContentRange ?? '');
      total = m !== null ? Number(m[1]) : offset === 0 ? res.ContentLength : undefined;
    }
    const body = res.Body as AsyncIterable<Uint8Array> | undefined;
    if (body === undefined) return;
    try {
      for await (const chunk of body) {
        offset += chunk.length;
        stats.bytes += chunk.length;
        yield chunk;
      }
    } catch (e) {
      if (o.signal?.aborted === true) throw e;
      if (++failures >= o.maxAttempts) {
        throw new S3ReadError(
          `download broke off at byte ${offset} after ${failures} attempts: ${errName(e) || 'Error'}: ${errMessage(e)}`,
          errName(e),
        );
      }
      await o.sleep(Math.min(2000, 100 * 2 ** failures) * (0.5 + Math.random() / 2));
      continue;
    }
    // A body that ended quietly before Content-Length is a broken connection too.
    if (total !== undefined && offset < total) {
      if (++failures >= o.maxAttempts) {
        throw new S3ReadError(
          `download ended at byte ${offset} of ${total} after ${failures} attempts`,
          'Truncated',
        );
      }
      continue;
    }
    return;
  }
}

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

/** Runs `fn` over the items with at most `limit` at once; the first error stops new work and is thrown. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed.e;
}

/** Every key under `prefix`, sorted (for callers that need names only: demo, tests). */
export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listObjects(client, bucket, [prefix])).map((o) => o.key);
}

/** One whole object's bytes (small objects: dead letters, test checks). */
export async function getObjectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body === undefined ? new Uint8Array() : out.Body.transformToByteArray();
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
