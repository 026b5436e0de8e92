/**
 * Reading Kinesis shards the way Lambda's and Firehose's pollers do: one iterator per shard,
 * resumed after a checkpointed sequence number, re-created when it expires (5 min idle), and
 * exact re-reads of a [first, last] range for crash recovery.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';

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

const kinesisSdk = () => import('@aws-sdk/client-kinesis');

/** Shard ids, sorted: the one ListShards walker (src/aws/stream-reader.ts) serves AWS and local alike. */
export async function listShardIds(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  const { listShards } = await import('../aws/stream-reader.js');
  return (await listShards(kinesis, streamName)).map((s) => s.shardId).sort();
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
    const { GetRecordsCommand, GetShardIteratorCommand } = await kinesisSdk();
    for (let attempt = 0; ; attempt++) {
      if (this.iterator === undefined) {
        const start: StartAt =
          this.lastSeq === undefined
            ? this.start
            : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: this.lastSeq };
        const out = await this.kinesis.send(
          new GetShardIteratorCommand({
            StreamName: this.streamName,
            ShardId: this.shardId,
            ShardIteratorType: start.type,
            ...('sequenceNumber' in start ? { StartingSequenceNumber: start.sequenceNumber } : {}),
          }),
        );
        this.iterator = out.ShardIterator;
        // LATEST means "from now": pin it so a later re-create does not skip what arrived since.
        if (this.start.type === 'LATEST') this.start = { type: 'TRIM_HORIZON' };
      }
      try {
        const out = await this.kinesis.send(
          new GetRecordsCommand({ ShardIterator: this.iterator, Limit: limit }),
        );
        const records = (out.Records ?? []).map(
          (r): StreamRecord => ({
            shardId: this.shardId,
            sequenceNumber: r.SequenceNumber ?? '',
            partitionKey: r.PartitionKey ?? '',
            data: r.Data ?? new Uint8Array(),
            arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
          }),
        );
        const last = records.at(-1);
        if (last !== undefined) this.lastSeq = last.sequenceNumber;
        this.iterator = out.NextShardIterator;
        if (this.iterator === undefined) this.closed = true;
        return { records, millisBehindLatest: out.MillisBehindLatest ?? 0, closed: this.closed };
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
  for (;;) {
    const { records, closed } = await reader.read(10_000);
    for (const r of records) {
      if (compareSeq(r.sequenceNumber, last) > 0) return out;
      out.push(r);
    }
    if (out.at(-1)?.sequenceNumber === last || closed || records.length === 0) return out;
  }
}
