/**
 * The aggregator's on-failure destination locally: `<dataDir>/failed-batches.ndjson`, one line per
 * batch Lambda gave up on, in the record shape Lambda sends to an SQS/SNS on-failure destination.
 * The records themselves stay in the stream; the line says where (shard + sequence range).
 */
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { localPaths } from './files.js';

export type FailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

export interface FailedBatchRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: FailureCondition;
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: string;
    functionError?: string;
  };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export function appendFailedBatch(dataDir: string, record: FailedBatchRecord): void {
  appendFileSync(localPaths(dataDir).failedBatches, `${JSON.stringify(record)}\n`);
}

/** Every failed batch recorded in this data dir, oldest first ([] when there are none). */
export async function listFailedBatches(dataDir: string): Promise<FailedBatchRecord[]> {
  let text: string;
  try {
    text = await readFile(localPaths(dataDir).failedBatches, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: FailedBatchRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as FailedBatchRecord);
    } catch {
      // A line cut short by a crash mid-append: skip it rather than hide every other record.
    }
  }
  return out;
}
