/**
 * Facts doctor gathers through the Kinesis and S3 APIs — the same calls against AWS and against the
 * local pipeline's servers (kinesalite, s3rver): stream status, newest object per prefix, the last
 * hour's dead letters. Judgement lives in src/cli/doctor/checks.ts.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { decodeObject } from '../../pipeline/codec.js';
import { PREFIXES } from '../../pipeline/config.js';
import { type CheckResult, checkFreshness, fail, type StreamFact, warn } from './checks.js';
import { hourPrefixes } from '../../pipeline/partitions.js';

const HOUR_MS = 3_600_000;

export const errName = (e: unknown): string => (e as { name?: string }).name ?? 'Error';
export const errLine = (e: unknown): string =>
  `${errName(e)}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;

const DENIED = /AccessDenied|UnauthorizedOperation|AuthorizationError|NotAuthorized|Forbidden/;

/**
 * Runs one check's gathering; a failure to gather is itself the check's result: a permission
 * problem is a warning (the pipeline may be fine, doctor just cannot see), anything else fails.
 */
export async function guard(
  id: string,
  title: string,
  run: () => Promise<CheckResult | CheckResult[]>,
  permission?: string,
): Promise<CheckResult[]> {
  try {
    const r = await run();
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    if (DENIED.test(errName(e))) {
      return [
        warn(
          id,
          title,
          `could not check: ${errLine(e)}`,
          `grant ${permission ?? 'read access'} to the identity running doctor`,
        ),
      ];
    }
    return [
      fail(id, title, `could not check: ${errLine(e)}`, 'run again with --debug; check the resource exists'),
    ];
  }
}

export async function streamFact(kinesis: KinesisClient, name: string): Promise<StreamFact> {
  const { DescribeStreamSummaryCommand } = await import('@aws-sdk/client-kinesis');
  try {
    const s = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name })))
      .StreamDescriptionSummary;
    return {
      name,
      status: s?.StreamStatus,
      openShards: s?.OpenShardCount,
      mode: s?.StreamModeDetails?.StreamMode,
    };
  } catch (e) {
    if (errName(e) === 'ResourceNotFoundException') return { name };
    throw e;
  }
}

interface ListedObject {
  key: string;
  lastModified: number;
}

/** Objects under the current and the previous hour's partitions of `base` (`data/`, `aggregations/`...). */
export async function recentObjects(
  s3: S3Client,
  bucket: string,
  base: string,
  nowMs: number,
): Promise<ListedObject[]> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const out: ListedObject[] = [];
  for (const prefix of hourPrefixes(base, nowMs - HOUR_MS, nowMs)) {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined && o.LastModified !== undefined) {
          out.push({ key: o.Key, lastModified: o.LastModified.getTime() });
        }
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
  return out;
}

/** Age of the newest object under the last two hour partitions of `base`, or undefined when none. */
export async function newestObjectAge(
  s3: S3Client,
  bucket: string,
  base: string,
  nowMs: number,
): Promise<number | undefined> {
  const objects = await recentObjects(s3, bucket, base, nowMs);
  if (objects.length === 0) return undefined;
  const newest = Math.max(...objects.map((o) => o.lastModified));
  // A server clock slightly ahead of ours must not read as a negative age.
  return Math.max(0, nowMs - newest);
}

/** Dead-letter objects count per object, records up to this many objects (then objects only). */
const MAX_DEAD_LETTER_DOWNLOADS = 50;

export interface DeadLetterFacts {
  objects: number;
  /** Lines in those objects; undefined when there were too many to download. */
  records: number | undefined;
}

/** Dead-letter objects written in the last hour (current and previous hour partitions). */
export async function deadLetterFacts(
  s3: S3Client,
  bucket: string,
  prefix: string,
  nowMs: number,
): Promise<DeadLetterFacts> {
  const objects = (await recentObjects(s3, bucket, prefix, nowMs)).filter(
    (o) => o.lastModified >= nowMs - HOUR_MS,
  );
  if (objects.length === 0 || objects.length > MAX_DEAD_LETTER_DOWNLOADS) {
    return { objects: objects.length, records: objects.length === 0 ? 0 : undefined };
  }
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  let records = 0;
  for (const o of objects) {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
    const bytes = res.Body === undefined ? new Uint8Array() : await res.Body.transformToByteArray();
    records += decodeObject(bytes, o.key).records.length;
  }
  return { objects: objects.length, records };
}

/**
 * Both freshness checks: raw first, because whether stale aggregates are expected depends on
 * whether raw data kept arriving after them.
 */
export async function freshnessChecks(
  s3: S3Client,
  buckets: { raw: string; analytics: string },
  nowMs: number,
  limitMs: number,
  scheduleEnabled: boolean | undefined,
  where: (bucket: string, prefix: string) => string,
  pipelineAgeMs?: number,
): Promise<CheckResult[]> {
  let rawAge: number | undefined;
  const raw = await guard('freshness.raw', 'Raw data freshness', async () => {
    rawAge = await newestObjectAge(s3, buckets.raw, PREFIXES.raw, nowMs);
    return checkFreshness(
      'raw',
      where(buckets.raw, PREFIXES.raw),
      rawAge,
      limitMs,
      scheduleEnabled,
      undefined,
      pipelineAgeMs,
    );
  });
  const aggs = await guard('freshness.aggregations', 'Aggregates freshness', async () =>
    checkFreshness(
      'aggregations',
      where(buckets.analytics, PREFIXES.aggregations),
      await newestObjectAge(s3, buckets.analytics, PREFIXES.aggregations, nowMs),
      limitMs,
      scheduleEnabled,
      rawAge,
      pipelineAgeMs,
    ),
  );
  return [...raw, ...aggs];
}
