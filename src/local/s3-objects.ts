/**
 * Reading back what the local pipeline wrote to S3 (demo verification and tests): list a
 * prefix, fetch objects, decode them with the domain codec (gzip or not, NDJSON or concatenated).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type DecodeError, decodeObject } from '../domain/codec.js';

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    );
    for (const o of out.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    token = out.IsTruncated === true ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

export async function getObjectBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (out.Body === undefined) return new Uint8Array();
  return out.Body.transformToByteArray();
}

export interface DecodedObjects {
  keys: string[];
  records: unknown[];
  errors: DecodeError[];
}

/** Every record of every object under the prefix (fetched a few at a time). */
export async function readRecords(
  s3: S3Client,
  bucket: string,
  prefix: string,
  concurrency = 8,
): Promise<DecodedObjects> {
  const keys = await listKeys(s3, bucket, prefix);
  const perKey: unknown[][] = new Array(keys.length);
  const errors: DecodeError[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++;
      const key = keys[i] as string;
      const d = decodeObject(await getObjectBytes(s3, bucket, key), key);
      perKey[i] = d.records;
      if (d.error !== undefined) errors.push(d.error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return { keys, records: perKey.flat(), errors };
}
