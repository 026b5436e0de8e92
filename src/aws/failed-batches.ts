/**
 * Reading a failed batch back from its stream (`paypipe redrive`): exactly the shard and sequence
 * range Lambda's on-failure record names, or the news that the stream no longer holds it. Built on
 * the Kinesis calls of kinesis.ts, so it works on AWS and kinesalite alike.
 */
import { PaypipeError } from '../errors.js';
import { errorName } from './errors.js';
import { getRecords, getShardIterator, type KinesisClient, type StreamRecord } from './kinesis.js';

export type BatchRead =
  | { kind: 'complete'; records: StreamRecord[] }
  /** The stream no longer holds (all of) the batch: trimmed by retention, or the shard expired. */
  | { kind: 'gone'; detail: string }
  /** The range reads back, but not as the failure record describes it. */
  | { kind: 'mismatch'; detail: string };

export interface BatchRange {
  shardId: string;
  first: string;
  last: string;
  count: number;
}

/** The SDK error under a PaypipeError from kinesis.ts (or the error itself). */
const sdkName = (e: unknown): string =>
  errorName(e instanceof PaypipeError && e.cause !== undefined ? e.cause : e);

/**
 * Reads exactly the records first..last of a shard. A batch is replayed whole or not at all: a
 * replay of part of it would produce other aggregate ids than the attempts that failed, and parts
 * of those may have reached the output — so anything short of the whole range is reported, not
 * returned. The caller has checked that the stream exists: a missing shard is an expired one.
 */
export async function readBatch(
  kinesis: KinesisClient,
  streamName: string,
  range: BatchRange,
): Promise<BatchRead> {
  let iterator: string | undefined;
  try {
    iterator = await getShardIterator(kinesis, streamName, range.shardId, {
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: range.first,
    });
  } catch (e) {
    const name = sdkName(e);
    if (name === 'ResourceNotFoundException') {
      return { kind: 'gone', detail: `shard ${range.shardId} is no longer in ${streamName}` };
    }
    if (name === 'InvalidArgumentException') {
      const cause = e instanceof PaypipeError && e.cause !== undefined ? e.cause : e;
      return {
        kind: 'mismatch',
        detail: `${streamName} does not accept sequence number ${range.first} for ${range.shardId}: ${String((cause as Error).message).split('\n')[0]}`,
      };
    }
    throw e;
  }
  const records: StreamRecord[] = [];
  const last = BigInt(range.last);
  let emptyPages = 0;
  read: while (iterator !== undefined) {
    const page = await getRecords(kinesis, range.shardId, iterator, Math.min(10_000, range.count + 1));
    iterator = page.nextIterator;
    for (const r of page.records) {
      if (records.length === 0 && r.sequenceNumber !== range.first) {
        // Reading at a sequence number the stream dropped starts at the oldest record it still has.
        return {
          kind: 'gone',
          detail: `the first record (${range.first}) is no longer in ${range.shardId}; the oldest there is ${r.sequenceNumber}`,
        };
      }
      if (BigInt(r.sequenceNumber) > last) break read;
      records.push(r);
      if (r.sequenceNumber === range.last) break read;
    }
    if (page.records.length > 0) emptyPages = 0;
    // An empty page behind the tip is a quiet stretch of the shard; at the tip the range ended.
    else if (page.millisBehindLatest === 0 || ++emptyPages >= 20) break;
  }
  if (records.length === 0) {
    return { kind: 'gone', detail: `no record of ${range.first}…${range.last} is left in ${range.shardId}` };
  }
  if (records.at(-1)?.sequenceNumber !== range.last || records.length !== range.count) {
    return {
      kind: 'mismatch',
      detail: `${range.shardId} holds ${records.length} records from ${range.first} to ${records.at(-1)?.sequenceNumber}, the failure record says ${range.count} up to ${range.last}`,
    };
  }
  return { kind: 'complete', records };
}
