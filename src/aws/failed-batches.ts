/**
 * The AWS side of failed batches (`paypipe redrive`): the aggregator's on-failure SQS queue
 * (receive every message, delete the replayed ones, hand the others back) and reading a failed
 * batch's records back from the input stream by shard and sequence range — or finding out that
 * the stream no longer holds them. Works on kinesalite as well (the local pipeline's failure
 * destination is a file, src/local/failed-batches.ts, but its records are read back the same way).
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';

export interface QueuedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
}

/**
 * Every message in the queue, received (so hidden from other consumers) for `visibilitySeconds`.
 * SQS long polling (1 s) asks every server, so an empty answer means the queue is drained; a
 * message seen twice (its visibility ran out meanwhile) is kept once.
 */
export async function receiveAllMessages(
  sqs: SQSClient,
  queueUrl: string,
  visibilitySeconds: number,
  max = 10_000,
): Promise<QueuedMessage[]> {
  const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
  const seen = new Map<string, QueuedMessage>();
  while (seen.size < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: visibilitySeconds,
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    let fresh = 0;
    for (const m of messages) {
      if (m.MessageId === undefined || m.ReceiptHandle === undefined) continue;
      if (!seen.has(m.MessageId)) fresh++;
      seen.set(m.MessageId, { messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body ?? '' });
    }
    // Only repeats: their visibility ran out while we were receiving; everything has been seen.
    if (fresh === 0) break;
  }
  return [...seen.values()];
}

export async function deleteMessage(sqs: SQSClient, queueUrl: string, receiptHandle: string): Promise<void> {
  const { DeleteMessageCommand } = await import('@aws-sdk/client-sqs');
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
}

/** Makes received messages visible again at once (a dry run, or batches that were not replayed). */
export async function releaseMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly QueuedMessage[],
): Promise<void> {
  const { ChangeMessageVisibilityBatchCommand } = await import('@aws-sdk/client-sqs');
  for (let i = 0; i < messages.length; i += 10) {
    const page = messages.slice(i, i + 10);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: page.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/** The stream's retention period (hours) as deployed. */
export async function streamRetentionHours(kinesis: KinesisClient, streamName: string): Promise<number> {
  const { DescribeStreamSummaryCommand } = await import('@aws-sdk/client-kinesis');
  const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  return out.StreamDescriptionSummary?.RetentionPeriodHours ?? 24;
}

export interface BatchRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  arrivalMs: number;
}

export type BatchRead =
  | { kind: 'complete'; records: BatchRecord[] }
  /** The stream no longer holds (all of) the batch: trimmed by retention, or the shard expired. */
  | { kind: 'gone'; detail: string }
  /** The range reads back, but not as the failure record describes it. */
  | { kind: 'mismatch'; detail: string };

const cmp = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Reads exactly the records first..last of a shard. A batch is replayed whole or not at all: a
 * replay of part of it would produce other aggregate ids than the attempts that failed, and parts
 * of those may have reached the output — so anything short of the whole range is reported, not
 * returned.
 */
export async function readBatch(
  kinesis: KinesisClient,
  streamName: string,
  range: { shardId: string; first: string; last: string; count: number },
): Promise<BatchRead> {
  const { GetRecordsCommand, GetShardIteratorCommand } = await import('@aws-sdk/client-kinesis');
  let iterator: string | undefined;
  try {
    iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: range.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: range.first,
        }),
      )
    ).ShardIterator;
  } catch (e) {
    const name = (e as { name?: string }).name;
    if (name === 'ResourceNotFoundException') {
      return { kind: 'gone', detail: `shard ${range.shardId} is no longer in ${streamName}` };
    }
    if (name === 'InvalidArgumentException') {
      return {
        kind: 'mismatch',
        detail: `${streamName} does not accept sequence number ${range.first} for ${range.shardId}: ${(e as Error).message.split('\n')[0]}`,
      };
    }
    throw e;
  }
  const records: BatchRecord[] = [];
  let emptyPages = 0;
  while (iterator !== undefined) {
    const out = await kinesis.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(10_000, range.count + 1) }),
    );
    iterator = out.NextShardIterator;
    const page = out.Records ?? [];
    for (const r of page) {
      const seq = r.SequenceNumber ?? '';
      if (records.length === 0 && seq !== range.first) {
        // Reading at a sequence number the stream dropped starts at the oldest record it still has.
        return {
          kind: 'gone',
          detail: `the first record (${range.first}) is no longer in ${range.shardId}; the oldest there is ${seq}`,
        };
      }
      if (cmp(seq, range.last) > 0) {
        iterator = undefined;
        break;
      }
      records.push({
        shardId: range.shardId,
        sequenceNumber: seq,
        partitionKey: r.PartitionKey ?? '',
        data: r.Data ?? new Uint8Array(),
        arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
      });
      if (seq === range.last) {
        iterator = undefined;
        break;
      }
    }
    if (page.length > 0) emptyPages = 0;
    // An empty page behind the tip is a quiet stretch of the shard; at the tip the range ended.
    else if ((out.MillisBehindLatest ?? 0) === 0 || ++emptyPages >= 20) break;
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
