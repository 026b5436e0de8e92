/**
 * Reading Kinesis shards the way Lambda's and Firehose's pollers do: one iterator per shard,
 * resumed after a checkpointed sequence number, re-created when it expires (5 min idle), and
 * exact re-reads of a [first, last] range for crash recovery.
 */
import {
  getRecords,
  getShardIterator,
  type KinesisClient,
  listShards,
  waitForStreamActive,
} from '../aws/kinesis.js';

export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  /** ApproximateArrivalTimestamp, epoch ms. */
  arrivalMs: number;
}

export type StartAt =
  | { type: 'TRIM_HORIZON' }
  | { type: 'LATEST' }
  | { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_SEQUENCE_NUMBER'; sequenceNumber: string };

export const compareSeq = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Shard ids, sorted: the one ListShards walker (src/aws/kinesis.ts) serves AWS and local alike.
 * A stream still being created lists no shards on kinesalite (AWS refuses ListShards then): a
 * reader that took that list would poll nothing forever, so an empty list waits for ACTIVE.
 */
export async function listShardIds(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  let shards = await listShards(kinesis, streamName);
  if (shards.length === 0) {
    await waitForStreamActive(kinesis, streamName);
    shards = await listShards(kinesis, streamName);
  }
  return shards.map((s) => s.shardId).sort();
}

export interface ReadResult {
  records: StreamRecord[];
  millisBehindLatest: number;
  /** The shard is closed and fully read (after a reshard). */
  closed: boolean;
}

export class ShardReader {
  private iterator: string | undefined;
  private lastSeq: string | undefined;
  private closed = false;

  constructor(
    private readonly kinesis: KinesisClient,
    readonly streamName: string,
    readonly shardId: string,
    private start: StartAt,
  ) {}

  /** Next records after everything returned so far (at most `limit`). */
  async read(limit: number): Promise<ReadResult> {
    if (this.closed) return { records: [], millisBehindLatest: 0, closed: true };
    for (let attempt = 0; ; attempt++) {
      if (this.iterator === undefined) {
        const start: StartAt =
          this.lastSeq === undefined
            ? this.start
            : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSeq };
        this.iterator = await getShardIterator(this.kinesis, this.streamName, this.shardId, start);
        // LATEST means "from now": pin it so a later re-create does not skip what arrived since.
        if (this.start.type === 'LATEST') this.start = { type: 'TRIM_HORIZON' };
      }
      if (this.iterator === undefined) {
        this.closed = true;
        return { records: [], millisBehindLatest: 0, closed: true };
      }
      try {
        const page = await getRecords(this.kinesis, this.shardId, this.iterator, limit);
        const records: StreamRecord[] = page.records;
        const last = records.at(-1);
        if (last !== undefined) this.lastSeq = last.sequenceNumber;
        this.iterator = page.nextIterator;
        if (this.iterator === undefined) this.closed = true;
        return { records, millisBehindLatest: page.millisBehindLatest, closed: this.closed };
      } catch (e) {
        // Iterators expire after 5 minutes; re-create from the last sequence number we returned.
        if ((e as { name?: string }).name === 'ExpiredIteratorException' && attempt < 2) {
          this.iterator = undefined;
          continue;
        }
        throw e;
      }
    }
  }
}

/**
 * Exactly the records first..last (inclusive) of a shard — the range of an in-flight batch or
 * delivery, re-read after a crash. Records trimmed by retention meanwhile are simply absent.
 */
export async function readRange(
  kinesis: KinesisClient,
  streamName: string,
  shardId: string,
  first: string,
  last: string,
): Promise<StreamRecord[]> {
  const reader = new ShardReader(kinesis, streamName, shardId, {
    type: 'AT_SEQUENCE_NUMBER',
    sequenceNumber: first,
  });
  const out: StreamRecord[] = [];
  let emptyPages = 0;
  for (;;) {
    const { records, closed, millisBehindLatest } = await reader.read(10_000);
    for (const r of records) {
      if (compareSeq(r.sequenceNumber, last) > 0) return out;
      out.push(r);
    }
    if (out.at(-1)?.sequenceNumber === last || closed) return out;
    if (records.length > 0) emptyPages = 0;
    // Kinesis may answer an empty page while still behind the tip (a quiet stretch of the shard):
    // only an empty page at the tip (or many in a row) ends the range early.
    else if (millisBehindLatest === 0 || ++emptyPages >= 20) return out;
  }
}
