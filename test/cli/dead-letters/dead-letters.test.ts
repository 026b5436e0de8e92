import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Io } from '../../../src/cli/io.js';
import { renderDeadLetters, runDeadLetters } from '../../../src/cli/dead-letters/dead-letters.js';
import { appendFailedBatch } from '../../../src/local/failed-batches.js';
import { implicitWhen } from '../../../src/pipeline/time-range.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../../helpers/local-pipeline.js';

const sink = (): Writable =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

describe('paypipe dead-letters --local (real kinesalite + s3rver)', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline();
    const now = Date.now();
    await sendEvents(p, makeEvents(20, { startMs: now - 120_000, spanMs: 60_000 }));
    await sendRaw(p, [
      { data: '{not json', partitionKey: 'a' },
      {
        data: JSON.stringify({
          transaction_id: 'T1',
          amount: 1.005,
          currency: 'USD',
          merchant: 'M',
          event_timestamp: now,
        }),
        partitionKey: 'b',
      },
      {
        data: JSON.stringify({
          transaction_id: 'T2',
          amount: 5,
          currency: 'XXY',
          merchant: 'M',
          event_timestamp: now,
        }),
        partitionKey: 'c',
      },
    ]);
    await p.waitForIdle();
  });
  afterAll(() => p.cleanup());

  it('lists every bad record with its reason and the original bytes, and the failed batches', async () => {
    appendFailedBatch(p.dataDir, {
      requestContext: {
        requestId: 'r',
        functionArn: 'arn',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId: 'shardId-000000000001',
        startSequenceNumber: '1',
        endSequenceNumber: '9',
        approximateArrivalOfFirstRecord: new Date().toISOString(),
        approximateArrivalOfLastRecord: new Date().toISOString(),
        batchSize: 9,
        streamArn: 'arn:aws:kinesis:ap-southeast-2:000000000000:stream/x',
      },
    });
    const io = new Io({ stdout: sink(), stderr: sink(), env: {} });
    const r = await runDeadLetters(
      { local: true, dataDir: p.dataDir, since: implicitWhen('--since', '24h'), count: 2 },
      io,
    );
    expect(r.target).toBe('local');
    expect(r.badRecords).toBe(3);
    expect(r.byReason).toEqual({ not_json: 1, amount_too_precise: 1, unknown_currency: 1 });
    expect(r.records).toHaveLength(2);
    expect(r.truncated).toBe(1);
    const previews = r.records.map((x) => x.preview);
    expect(previews.some((t) => t === '{not json' || t.includes('1.005') || t.includes('XXY'))).toBe(true);
    expect(r.failedBatches).toMatchObject({ kind: 'local', count: 1 });
    const text = renderDeadLetters(r, io.style);
    expect(text).toContain('Bad records: 3');
    expect(text).toContain('Failed batches: 1');
    expect(text).toContain('shardId-000000000001 9 records');
  });
});
