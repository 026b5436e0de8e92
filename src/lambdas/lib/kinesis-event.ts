/**
 * The event Lambda's Kinesis event source mapping hands a function, built from stream records.
 * One builder for everything that invokes the aggregator outside Lambda — the local event source
 * mapping and `paypipe redrive` — so the handler sees exactly what Lambda would give it and derives
 * the same aggregate ids.
 */
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

export interface SourceRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  /** ApproximateArrivalTimestamp, epoch ms. */
  arrivalMs: number;
}

export interface EventSource {
  region: string;
  streamArn: string;
  /** The function's execution role, as Lambda puts it in every record. */
  invokeIdentityArn: string;
}

export function kinesisEvent(records: readonly SourceRecord[], source: EventSource): KinesisStreamEvent {
  return {
    Records: records.map(
      (r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.partitionKey,
          sequenceNumber: r.sequenceNumber,
          data: Buffer.from(r.data).toString('base64'),
          approximateArrivalTimestamp: r.arrivalMs / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${r.shardId}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: source.invokeIdentityArn,
        awsRegion: source.region,
        eventSourceARN: source.streamArn,
      }),
    ),
  };
}
