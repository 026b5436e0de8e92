/**
 * Every S3 call paypipe makes, for AWS and s3rver alike: list (the SDK's paginator, any number of
 * keys), read (whole small objects, or one object's bytes as a stream that survives broken
 * connections), write (PutObject), and creating a bucket if it is missing. Decoding what was read
 * is s3-objects.ts's job.
 */
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { PaypipeError } from '../errors.js';
import { errorMessage, errorName } from './errors.js';

export type { S3Client } from '@aws-sdk/client-s3';

const sdk = () => import('@aws-sdk/client-s3');

const withSignal = (signal: AbortSignal | undefined) =>
  signal === undefined ? [] : [{ abortSignal: signal }];

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date | undefined;
}

/** Maps listing errors on the bucket to one-line PaypipeErrors. */
function bucketError(e: unknown, bucket: string): unknown {
  if (e instanceof PaypipeError) return e;
  const name = errorName(e);
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
  return new PaypipeError('AWS', `listing bucket ${bucket} failed: ${name}: ${errorMessage(e)}`, {
    hint: 'check the network/endpoint and try again (--debug shows details)',
    cause: e,
  });
}

// ---------------------------------------------------------------------------------------- list

/** Every object under `prefix`, a page (≤ 1,000 keys, or `pageSize`) at a time. */
export async function* listObjectPages(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
  pageSize?: number,
): AsyncGenerator<ObjectInfo[], void, undefined> {
  const { paginateListObjectsV2 } = await sdk();
  const pages = paginateListObjectsV2(
    { client, ...(pageSize === undefined ? {} : { pageSize }) },
    { Bucket: bucket, Prefix: prefix },
    ...withSignal(signal),
  );
  // Pages are read here and yielded outside the try: a consumer's own error must not be
  // reported as a listing failure.
  for (;;) {
    let next: IteratorResult<{ Contents?: Array<{ Key?: string; Size?: number; LastModified?: Date }> }>;
    try {
      next = await pages.next();
    } catch (e) {
      throw bucketError(e, bucket);
    }
    if (next.done === true) return;
    const page: ObjectInfo[] = [];
    for (const o of next.value.Contents ?? []) {
      if (o.Key === undefined) continue;
      page.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
    }
    yield page;
  }
}

/** All objects under several prefixes (listed in parallel), sorted by key. */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefixes: readonly string[],
  opts: { signal?: AbortSignal; concurrency?: number; pageSize?: number } = {},
): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  await forEachLimit(prefixes, opts.concurrency ?? 8, async (prefix) => {
    for await (const page of listObjectPages(client, bucket, prefix, opts.signal, opts.pageSize)) {
      out.push(...page);
    }
  });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Every key under `prefix`, sorted (for callers that need names only: demo, tests). */
export async function listKeys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listObjects(client, bucket, [prefix])).map((o) => o.key);
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

// ---------------------------------------------------------------------------------------- read

/** One whole object's bytes (small objects: dead letters, test checks). */
export async function getObjectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const { GetObjectCommand } = await sdk();
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body === undefined ? new Uint8Array() : out.Body.transformToByteArray();
}

/** Why one object could not be read after retries (it never stops the other objects). */
export class S3ReadError extends Error {
  constructor(
    message: string,
    readonly causeName: string,
  ) {
    super(message);
  }
}

const retryDelay = (failures: number): number =>
  Math.min(2000, 100 * 2 ** failures) * (0.5 + Math.random() / 2);

/**
 * The bytes of one object as a stream that survives connection failures: the SDK retries the
 * request; a body that dies mid-download is resumed from the next byte with `Range` + `If-Match`
 * (so a concurrently replaced object is never spliced with its successor). After `maxAttempts`
 * it throws S3ReadError.
 */
export async function* resumableBody(
  client: S3Client,
  bucket: string,
  obj: ObjectInfo,
  o: { maxAttempts: number; sleep: (ms: number) => Promise<void>; signal?: AbortSignal | undefined },
  stats: { bytes: number; requests: number },
): AsyncGenerator<Uint8Array, void, undefined> {
  const { GetObjectCommand } = await sdk();
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
        ...withSignal(o.signal),
      );
    } catch (e) {
      const name = errorName(e);
      if (name === 'NoSuchKey') throw new S3ReadError('object was deleted while reading', name);
      if (name === 'PreconditionFailed') throw new S3ReadError('object was replaced while reading', name);
      if (name === 'AccessDenied') throw new S3ReadError('access denied (s3:GetObject)', name);
      if (name === 'InvalidRange' && offset > 0 && total !== undefined && offset >= total) return;
      if (++failures >= o.maxAttempts || o.signal?.aborted === true) {
        throw new S3ReadError(
          `GetObject failed after ${failures} attempts: ${name}: ${errorMessage(e)}`,
          name,
        );
      }
      await o.sleep(retryDelay(failures));
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
          `download broke off at byte ${offset} after ${failures} attempts: ${errorName(e)}: ${errorMessage(e)}`,
          errorName(e),
        );
      }
      await o.sleep(retryDelay(failures));
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

// --------------------------------------------------------------------------------------- write

export interface PutObjectRequest {
  bucket: string;
  key: string;
  body: Uint8Array | string;
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  /** Aborts the request (e.g. a delivery abandoned by a stop's deadline). */
  signal?: AbortSignal | undefined;
}

/** One PutObject (S3 errors are the SDK's own: callers retry or record them as they need). */
export async function putObject(client: S3Client, r: PutObjectRequest): Promise<void> {
  const { PutObjectCommand } = await sdk();
  await client.send(
    new PutObjectCommand({
      Bucket: r.bucket,
      Key: r.key,
      Body: r.body,
      ...(r.contentType === undefined ? {} : { ContentType: r.contentType }),
      ...(r.contentEncoding === undefined ? {} : { ContentEncoding: r.contentEncoding }),
    }),
    r.signal === undefined ? {} : { abortSignal: r.signal },
  );
}

/** Creates the bucket unless it is there; returns whether it was created. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<boolean> {
  const { CreateBucketCommand, HeadBucketCommand } = await sdk();
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return false;
  } catch {
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return true;
    } catch (e) {
      const name = errorName(e);
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw e;
      return false;
    }
  }
}
