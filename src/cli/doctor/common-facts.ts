/**
 * The facts read the same way from AWS and from the local pipeline's servers (kinesalite, s3rver):
 * a stream's status and shape, the newest object under a prefix, the last hour's dead letters.
 */
import { describeStreamSummary } from '../../aws/kinesis.js';
import { getObjectBytes, listObjects, type ObjectInfo } from '../../aws/s3.js';
import { decodeObject } from '../../pipeline/codec.js';
import type { PipelineConfig } from '../../pipeline/config.js';
import { hourPrefixes } from '../../pipeline/partitions.js';
import type { DeadLettersFact, NewestObjectFact, StreamFact } from './facts.js';
import type { Kinesis, S3 } from './gather-common.js';

const HOUR_MS = 3_600_000;

export async function streamFact(kinesis: Kinesis, name: string): Promise<StreamFact> {
  const s = await describeStreamSummary(kinesis, name);
  return s === undefined ? { name } : { name, status: s.status, openShards: s.openShards, mode: s.mode };
}

/** Objects under the current and the previous hour's partitions of `base` (`data/`, `aggregations/`...). */
export async function recentObjects(
  s3: S3,
  bucket: string,
  base: string,
  nowMs: number,
): Promise<ObjectInfo[]> {
  return listObjects(s3, bucket, hourPrefixes(base, nowMs - HOUR_MS, nowMs));
}

/** Age of the newest object under the last two hour partitions of `base`. */
export async function newestObject(
  s3: S3,
  bucket: string,
  base: string,
  nowMs: number,
  where: string,
): Promise<NewestObjectFact> {
  const times = (await recentObjects(s3, bucket, base, nowMs)).flatMap((o) =>
    o.lastModified === undefined ? [] : [o.lastModified.getTime()],
  );
  if (times.length === 0) return { where };
  // A server clock slightly ahead of ours must not read as a negative age.
  return { where, ageMs: Math.max(0, nowMs - Math.max(...times)) };
}

/** Dead-letter objects are counted, and their records too up to this many objects. */
const MAX_DEAD_LETTER_DOWNLOADS = 50;

/** Dead-letter objects written in the last hour (current and previous hour partitions). */
export async function deadLetterFact(
  s3: S3,
  bucket: string,
  config: PipelineConfig,
  nowMs: number,
  where: string,
): Promise<DeadLettersFact> {
  const objects = (await recentObjects(s3, bucket, config.aggregator.deadLetterPrefix, nowMs)).filter(
    (o) => (o.lastModified?.getTime() ?? 0) >= nowMs - HOUR_MS,
  );
  if (objects.length === 0) return { where, objects: 0, records: 0 };
  if (objects.length > MAX_DEAD_LETTER_DOWNLOADS) return { where, objects: objects.length };
  let records = 0;
  for (const o of objects)
    records += decodeObject(await getObjectBytes(s3, bucket, o.key), o.key).records.length;
  return { where, objects: objects.length, records };
}
