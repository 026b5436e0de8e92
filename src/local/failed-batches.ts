/**
 * The aggregator's on-failure destination locally: `<dataDir>/failed-batches.ndjson`, one line per
 * batch Lambda gave up on, in the record shape Lambda sends to an SQS/SNS on-failure destination.
 * The records themselves stay in the stream; the line says where (shard + sequence range) and
 * when they arrived, which is what `paypipe redrive` needs to read them back.
 *
 * The event source mapping appends to that file; `paypipe redrive`, another process, never
 * rewrites it: it appends the request ids it replayed to `failed-batches-redriven.ndjson`, and a
 * batch is pending while its id is not there. (A replay is idempotent anyway — the same records
 * give the same aggregate ids — so two redrives racing cost work, not correctness.)
 */
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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

/** One line of failed-batches-redriven.ndjson: a batch `paypipe redrive` replayed. */
export interface RedrivenRecord {
  requestId: string;
  redrivenAt: string;
  records: number;
  aggregatesOut: number;
}

export const redrivenFile = (dataDir: string): string => join(dataDir, 'failed-batches-redriven.ndjson');

export function appendFailedBatch(dataDir: string, record: FailedBatchRecord): void {
  appendFileSync(localPaths(dataDir).failedBatches, `${JSON.stringify(record)}\n`);
}

export function appendRedriven(dataDir: string, record: RedrivenRecord): void {
  appendFileSync(redrivenFile(dataDir), `${JSON.stringify(record)}\n`);
}

/** The JSON lines of a file, oldest first ([] when it does not exist). */
async function readLines<T>(file: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line cut short by a crash mid-append: skip it rather than hide every other record.
    }
  }
  return out;
}

/** Every failed batch recorded in this data dir, oldest first ([] when there are none). */
export async function listFailedBatches(dataDir: string): Promise<FailedBatchRecord[]> {
  return readLines<FailedBatchRecord>(localPaths(dataDir).failedBatches);
}

export async function listRedriven(dataDir: string): Promise<RedrivenRecord[]> {
  return readLines<RedrivenRecord>(redrivenFile(dataDir));
}

/** Failed batches `paypipe redrive` has not replayed yet, oldest first. */
export async function pendingFailedBatches(dataDir: string): Promise<FailedBatchRecord[]> {
  const done = new Set((await listRedriven(dataDir)).map((r) => r.requestId));
  return (await listFailedBatches(dataDir)).filter((b) => !done.has(b.requestContext?.requestId));
}
