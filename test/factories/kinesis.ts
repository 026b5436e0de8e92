/**
 * Builders for realistic Kinesis → Lambda events: base64 data, 56-digit increasing sequence
 * numbers per shard, eventIDs `shardId-…:seq`, arrival timestamps in epoch seconds with ms.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { WireEvent } from '../../src/domain/event.js';
import { serializeEvent } from '../../src/domain/event.js';

export const shardName = (n: number): string => `shardId-${String(n).padStart(12, '0')}`;

/** Sequence numbers like Kinesis': 56 digits, increasing per shard. */
export class SequenceSource {
  private next = new Map<string, bigint>();
  seq(shardId: string): string {
    const base =
      this.next.get(shardId) ??
      49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;
    this.next.set(shardId, base + 1_000_000_000_000_000_000n);
    return base.toString();
  }
}

export interface RecordSpec {
  data: string | Uint8Array;
  shardId?: string;
  sequenceNumber?: string;
  partitionKey?: string;
  arrivalMs?: number;
}

const REGION = 'ap-southeast-2';
const STREAM_ARN = `arn:aws:kinesis:${REGION}:123456789012:stream/paypipe-dev-input-stream`;

export function kinesisRecord(
  spec: RecordSpec,
  seqs: SequenceSource = new SequenceSource(),
): KinesisStreamRecord {
  const shardId = spec.shardId ?? shardName(0);
  const sequenceNumber = spec.sequenceNumber ?? seqs.seq(shardId);
  const bytes = typeof spec.data === 'string' ? Buffer.from(spec.data, 'utf8') : Buffer.from(spec.data);
  return {
    awsRegion: REGION,
    eventID: `${shardId}:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: STREAM_ARN,
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/paypipe-dev-aggregator',
    kinesis: {
      approximateArrivalTimestamp: (spec.arrivalMs ?? 1_705_317_000_000) / 1000,
      data: bytes.toString('base64'),
      kinesisSchemaVersion: '1.0',
      partitionKey: spec.partitionKey ?? 'pk',
      sequenceNumber,
    },
  };
}

/** An event of records on one or more shards; sequence numbers increase per shard in list order. */
export function kinesisEvent(specs: readonly RecordSpec[]): KinesisStreamEvent {
  const seqs = new SequenceSource();
  return { Records: specs.map((s) => kinesisRecord(s, seqs)) };
}

/** A valid payment event with overrides. */
export function wireEvent(over: Partial<WireEvent> = {}): WireEvent {
  return {
    transaction_id: 'TXN1234567',
    amount: 125.5,
    currency: 'USD',
    merchant: 'Amazon',
    event_timestamp: 1_705_317_000_000,
    ...over,
  };
}

/** Record spec for a payment event, partition key = transaction id, arriving 1 s after event time. */
export function eventSpec(e: WireEvent, extra: Omit<RecordSpec, 'data'> = {}): RecordSpec {
  return {
    data: serializeEvent(e),
    partitionKey: e.transaction_id,
    arrivalMs: e.event_timestamp + 1000,
    ...extra,
  };
}
