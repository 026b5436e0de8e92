/**
 * src/aws/s3.ts against real s3rver (the local pipeline's own server child): listing through the
 * SDK's paginator page by page, writes and reads, buckets created once, and one-line errors for
 * a missing bucket. test/cli/results/results.test.ts lists past 1,000 keys and injects S3 faults.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { s3Client } from '../../src/aws/clients.js';
import {
  ensureBucket,
  getObjectBytes,
  listKeys,
  listObjectPages,
  listObjects,
  putObject,
  type S3Client,
} from '../../src/aws/s3.js';
import { isPaypipeError } from '../../src/errors.js';
import { startTestServers, type TestServers } from '../helpers/cli.js';

let env: TestServers;
let bucket: string;
beforeAll(async () => {
  env = await startTestServers();
  bucket = env.config.buckets.raw;
});
afterAll(async () => env?.close());

describe('list', () => {
  it('walks every page of a prefix (pageSize 2) and nothing outside it', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `list/a/${String(i).padStart(2, '0')}.ndjson`);
    await Promise.all(
      [...keys, 'list/b/00.ndjson', 'list/aa.ndjson'].map((key) =>
        putObject(env.s3, { bucket, key, body: key }),
      ),
    );
    const pages: string[][] = [];
    for await (const page of listObjectPages(env.s3, bucket, 'list/a/', undefined, 2)) {
      pages.push(page.map((o) => o.key));
    }
    expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flat()).toEqual(keys);
    const all = await listObjects(env.s3, bucket, ['list/a/', 'list/b/'], { pageSize: 3 });
    expect(all.map((o) => o.key)).toEqual([...keys, 'list/b/00.ndjson']);
    expect(all.every((o) => o.size > 0 && o.lastModified instanceof Date)).toBe(true);
    expect(await listKeys(env.s3, bucket, 'list/nothing-here/')).toEqual([]);
  });

  it('a missing bucket is one PaypipeError naming it, not an SDK stack', async () => {
    const e = await listObjects(env.s3, 'no-such-bucket-here', ['x/']).catch((err: unknown) => err);
    expect(isPaypipeError(e)).toBe(true);
    expect((e as Error).message).toBe('bucket no-such-bucket-here does not exist');
  });
});

describe('write and read', () => {
  it('putObject stores the bytes and headers; getObjectBytes returns them unchanged', async () => {
    const body = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
    await putObject(env.s3, {
      bucket,
      key: 'rw/blob.gz',
      body,
      contentType: 'application/octet-stream',
      contentEncoding: 'gzip',
    });
    expect(Buffer.from(await getObjectBytes(env.s3, bucket, 'rw/blob.gz')).equals(Buffer.from(body))).toBe(
      true,
    );
    await putObject(env.s3, { bucket, key: 'rw/text.ndjson', body: '{"a":1}\n' });
    expect(Buffer.from(await getObjectBytes(env.s3, bucket, 'rw/text.ndjson')).toString()).toBe('{"a":1}\n');
  });

  it('ensureBucket creates a bucket once and leaves its objects alone after', async () => {
    expect(await ensureBucket(env.s3, 'paypipe-ensure-test')).toBe(true);
    await putObject(env.s3, { bucket: 'paypipe-ensure-test', key: 'k', body: 'v' });
    expect(await ensureBucket(env.s3, 'paypipe-ensure-test')).toBe(false);
    expect(await listKeys(env.s3, 'paypipe-ensure-test', '')).toEqual(['k']);
  });
});

describe('an AWS target pointed at another endpoint (AWS_ENDPOINT_URL_S3)', () => {
  let client: S3Client | undefined;
  afterAll(() => {
    client?.destroy();
    vi.unstubAllEnvs();
  });

  it('reaches s3rver with path-style addressing and checksums only when required', async () => {
    // No endpoints on the target: the client resolves them from the environment, as the Lambdas do.
    vi.stubEnv('AWS_ENDPOINT_URL_S3', env.s3Endpoint.replace('127.0.0.1', 'localhost'));
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER');
    client = await s3Client({ kind: 'aws', region: 'us-east-1' });
    await putObject(client, { bucket, key: 'aws-target/one.ndjson', body: '{"b":2}\n' });
    expect(await listKeys(client, bucket, 'aws-target/')).toEqual(['aws-target/one.ndjson']);
    // Stored as sent: not wrapped in aws-chunked framing with a trailing checksum.
    expect(Buffer.from(await getObjectBytes(env.s3, bucket, 'aws-target/one.ndjson')).toString()).toBe(
      '{"b":2}\n',
    );
  });
});
