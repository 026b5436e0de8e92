import { KinesisClient, PutRecordsCommand, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currencyExponent } from '../../src/domain/currency.js';
import { validateRecord } from '../../src/domain/event.js';
import { fromMinor } from '../../src/domain/money.js';
import { createLogger } from '../../src/lambdas/lib/logger.js';
import { createProducerHandler } from '../../src/lambdas/producer-handler.js';
import { type LocalKinesis, startKinesalite } from '../factories/kinesalite.js';

const NOW = Date.UTC(2024, 0, 15, 10, 30, 5);

describe('producer handler against kinesalite', () => {
  let local: LocalKinesis;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    local = await startKinesalite();
    await local.createStream('paypipe-dev-input-stream', 2);
  });
  afterAll(() => local.close());

  const producer = () =>
    createProducerHandler({
      kinesis: local.client,
      streamName: 'paypipe-dev-input-stream',
      defaultCount: 250,
      logger: createLogger({ service: 'paypipe-producer', sink: (l) => lines.push(JSON.parse(l)) }),
      random: () => 0.25,
      now: () => NOW,
    });

  it('puts the default count of valid events keyed by transaction_id; totals match the stream exactly', async () => {
    const res = await producer()(undefined, { awsRequestId: 'r1', functionName: 'paypipe-dev-producer' });
    expect(res).toMatchObject({ sent: 250, failed: 0, retried: 0, seed: 2 ** 30 });
    const onStream = await local.readAll('paypipe-dev-input-stream');
    expect(onStream).toHaveLength(250);
    const minor = new Map<string, { count: number; total: number }>();
    for (const r of onStream) {
      const v = validateRecord(Buffer.from(r.data), { arrivalMs: NOW, maxFutureSkewMs: 0 });
      if (!v.ok) throw new Error(`${v.reason}: ${v.detail}`);
      expect(r.partitionKey).toBe(v.event.transaction_id);
      expect(v.event.event_timestamp).toBe(NOW);
      const t = minor.get(v.event.currency) ?? { count: 0, total: 0 };
      t.count++;
      t.total += v.event.amountMinor;
      minor.set(v.event.currency, t);
    }
    expect(new Set(onStream.map((r) => r.shardId)).size).toBe(2);
    const expected = Object.fromEntries(
      [...minor].map(([c, t]) => [
        c,
        { count: t.count, total_amount: fromMinor(t.total, currencyExponent(c) as number) },
      ]),
    );
    expect(res.totals_by_currency).toEqual(expected);
    expect(lines.at(-1)).toMatchObject({
      level: 'INFO',
      message: 'produced events',
      function_request_id: 'r1',
      sent: 250,
      requested: 250,
    });
  });

  it('honours count and seed from the event (same seed → same events)', async () => {
    const a = await producer()({ count: 20, seed: 99 });
    const b = await producer()({ count: 20, seed: 99 });
    expect(a.sent).toBe(20);
    expect(b).toEqual(a);
  });

  it.each([0, -1, 1.5, 100_001])('rejects count %d', async (count) => {
    await expect(producer()({ count })).rejects.toThrow(/count must be a whole number from 1 to 100000/);
  });
});

describe('producer handler with entries that never get through', () => {
  let kinesisMock: ReturnType<typeof mockClient>;
  beforeAll(() => {
    kinesisMock = mockClient(KinesisClient);
  });
  afterAll(() => kinesisMock.restore());

  it('throws loudly with the counts when entries stay unsent after retries', async () => {
    let n = 0;
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: 0,
      Records: (input.Records ?? []).map(() =>
        n++ % 10 === 0
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' }
          : { SequenceNumber: '1', ShardId: 's' },
      ),
    }));
    const lines: string[] = [];
    const h = createProducerHandler({
      kinesis: new KinesisClient({ region: 'ap-southeast-2' }),
      streamName: 'in',
      defaultCount: 100,
      logger: createLogger({ service: 'p', sink: (l) => lines.push(l) }),
      now: () => NOW,
      sendOptions: { maxAttempts: 1, sleep: async () => {} },
    });
    await expect(h({ seed: 1 })).rejects.toThrow(
      /^10 of 100 events unsent to in after retries \(sent 90; last error InternalFailure: Internal service failure\.\)$/,
    );
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ level: 'ERROR', sent: 90, failed: 10 });
  });
});
