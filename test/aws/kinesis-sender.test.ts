import {
  CreateStreamCommand,
  KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandInput,
} from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendStoppedError, sendRecords, unsentRecordsOf } from '../../src/aws/kinesis-sender.js';
import { generatedItems, runSend } from '../../src/cli/send/send-run.js';
import { currencyExponent } from '../../src/domain/currency.js';
import { toMinor } from '../../src/domain/money.js';
import { isPaypipeError } from '../../src/errors.js';
import { type LocalKinesis, startKinesalite } from '../factories/kinesalite.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe('sendRecords against kinesalite', () => {
  let local: LocalKinesis;
  let client: KinesisClient;
  beforeAll(async () => {
    local = await startKinesalite();
    client = local.client;
  });
  afterAll(() => local.close());
  const readAll = async (stream: string) => (await local.readAll(stream)).map((r) => r.data);

  it('puts every record exactly once, splitting at 500 records and 5 MiB, from a lazy async source', async () => {
    const stream = 'sender-test-a';
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 4 }));
    const n = 1234;
    // Every 100th record is ~300 KB so several requests are cut by bytes, not count.
    async function* source() {
      for (let i = 0; i < n; i++) {
        const pad = i % 100 === 0 ? 'x'.repeat(300_000) : '';
        yield { data: enc(JSON.stringify({ i, pad })), partitionKey: `TXN${i}` };
      }
    }
    const progress: number[] = [];
    const s = await sendRecords(client, stream, source(), { onProgress: (p) => progress.push(p.sent) });
    expect(s).toMatchObject({ sent: n, failed: 0, retried: 0, throttled: 0, failedRecords: [] });
    expect(s.requests).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toBe(n);
    const got = (await readAll(stream)).map((t) => (JSON.parse(t) as { i: number }).i).sort((a, b) => a - b);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('reports unsendable records (oversize, bad key) without sending them and sends the rest', async () => {
    const stream = 'sender-test-b';
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
    const records = [
      { data: enc('{"ok":1}'), partitionKey: 'a' },
      { data: new Uint8Array(1024 * 1024), partitionKey: 'big' },
      { data: enc('{"ok":2}'), partitionKey: '' },
      { data: enc('{"ok":3}'), partitionKey: 'c' },
    ];
    const s = await sendRecords(client, stream, records);
    expect(s.sent).toBe(2);
    expect(s.failed).toBe(2);
    expect(s.failedRecords.map((f) => [f.record.partitionKey, f.errorCode])).toEqual([
      ['big', 'InvalidRecord'],
      ['', 'InvalidRecord'],
    ]);
    expect((await readAll(stream)).sort()).toEqual(['{"ok":1}', '{"ok":3}']);
  });

  it('a missing stream fails fast with one PaypipeError naming it', async () => {
    const err = await sendRecords(client, 'no-such-stream', [{ data: enc('{}'), partitionKey: 'k' }]).catch(
      (e) => e,
    );
    expect(isPaypipeError(err)).toBe(true);
    expect(err.message).toMatch(/^PutRecords to stream "no-such-stream" failed: ResourceNotFoundException/);
    expect(err.message).not.toContain('\n');
    expect(err.hint).toMatch(/stream exists/);
  });
});

describe('sendRecords retries (faked PutRecords)', () => {
  // Created here, not at module level: mockClient patches KinesisClient for the whole file.
  let kinesisMock: ReturnType<typeof mockClient>;
  beforeAll(() => {
    kinesisMock = mockClient(KinesisClient);
  });
  afterAll(() => kinesisMock.restore());

  it('resends only failed entries until they succeed; never duplicates; counts retries and throttles', async () => {
    kinesisMock.reset();
    const stored: string[] = [];
    const sleeps: number[] = [];
    const attempts = new Map<number, number>();
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      const recs = (input.Records ?? []).map((r) => {
        const body = Buffer.from(r.Data as Uint8Array).toString();
        const i = Number(body);
        const a = (attempts.get(i) ?? 0) + 1;
        attempts.set(i, a);
        // Attempt 1: every 3rd throttled, every 7th internal failure; attempt 2: every 9th throttled again.
        if (a === 1 && i % 3 === 0)
          return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'x' };
        if (a === 1 && i % 7 === 0) return { ErrorCode: 'InternalFailure', ErrorMessage: 'x' };
        if (a === 2 && i % 9 === 0)
          return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'x' };
        stored.push(body);
        return { SequenceNumber: String(i), ShardId: 'shardId-000000000000' };
      });
      return { FailedRecordCount: recs.filter((r) => 'ErrorCode' in r).length, Records: recs };
    });
    const n = 1000;
    const s = await sendRecords(
      new KinesisClient({ region: 'ap-southeast-2' }),
      'stream',
      Array.from({ length: n }, (_, i) => ({ data: enc(String(i)), partitionKey: `k${i}` })),
      { concurrency: 1, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    );
    expect(s.sent).toBe(n);
    expect(s.failed).toBe(0);
    // Every record stored exactly once.
    expect(stored.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const count = (lo: number, f: (i: number) => boolean) =>
      Array.from({ length: 500 }, (_, k) => lo + k).filter(f).length;
    const f1 = (lo: number) => count(lo, (i) => i % 3 === 0 || i % 7 === 0);
    const f2 = (lo: number) => count(lo, (i) => i % 9 === 0);
    const calls = kinesisMock.commandCalls(PutRecordsCommand).map((c) => c.args[0].input.Records?.length);
    expect(calls).toEqual([500, f1(0), f2(0), 500, f1(500), f2(500)]);
    expect(s.requests).toBe(6);
    expect(s.retried).toBe(f1(0) + f2(0) + f1(500) + f2(500));
    expect(s.throttled).toBe(count(0, (i) => i % 3 === 0) + count(500, (i) => i % 3 === 0) + f2(0) + f2(500));
    // Full jitter with random 0.5: 50 ms before the first retry, 100 ms before the second.
    expect(sleeps).toEqual([50, 100, 50, 100]);
  });

  it('gives up after maxAttempts and returns exactly the still-unsent records', async () => {
    kinesisMock.reset();
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: 1,
      Records: (input.Records ?? []).map((r) =>
        Buffer.from(r.Data as Uint8Array).toString() === 'poison'
          ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded for shard' }
          : { SequenceNumber: '1', ShardId: 's' },
      ),
    }));
    const records = ['a', 'poison', 'b'].map((d) => ({ data: enc(d), partitionKey: d }));
    const s = await sendRecords(new KinesisClient({ region: 'ap-southeast-2' }), 'stream', records, {
      maxAttempts: 4,
      sleep: async () => {},
    });
    expect(s).toMatchObject({ sent: 2, failed: 1, retried: 3, requests: 4, throttled: 4 });
    expect(s.failedRecords).toEqual([
      {
        record: records[1],
        errorCode: 'ProvisionedThroughputExceededException',
        errorMessage: 'Rate exceeded for shard',
      },
    ]);
  });

  /** PutRecords that accepts the first request whole, then fails as if the stream was deleted. */
  const deletedAfterFirstPut = (): { calls: string[][] } => {
    const calls: string[][] = [];
    kinesisMock.reset();
    kinesisMock.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      const data = (input.Records ?? []).map((r) => Buffer.from(r.Data as Uint8Array).toString());
      calls.push(data);
      if (calls.length >= 2) {
        throw Object.assign(new Error('Stream s under account 1 not found.'), {
          name: 'ResourceNotFoundException',
        });
      }
      return { FailedRecordCount: 0, Records: data.map(() => ({ SequenceNumber: '1', ShardId: 's' })) };
    });
    return { calls };
  };

  it('a stream deleted mid-run: the thrown error carries every pulled record not sent, the failed batch included', async () => {
    const { calls } = deletedAfterFirstPut();
    const pulled: string[] = [];
    function* infinite() {
      for (let i = 0; ; i++) {
        pulled.push(String(i));
        yield { data: enc(String(i)), partitionKey: `k${i}` };
      }
    }
    const err = await sendRecords(new KinesisClient({ region: 'ap-southeast-2' }), 's', infinite(), {
      concurrency: 1,
      sleep: async () => {},
    }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(SendStoppedError);
    expect(isPaypipeError(err)).toBe(true);
    expect((err as Error).message).toMatch(/^PutRecords to stream "s" failed: ResourceNotFoundException/);
    const unsent = unsentRecordsOf(err).map((r) => Buffer.from(r.data).toString());
    const [first, failed] = calls;
    expect(first).toHaveLength(500);
    expect(failed).toHaveLength(500);
    // The batch the stream rejected is handed back whole…
    expect(unsent).toEqual(expect.arrayContaining(failed as string[]));
    // …and so is everything else pulled but not sent; only the accepted batch is missing.
    expect([...unsent].sort()).toEqual(pulled.filter((d) => !(first as string[]).includes(d)).sort());
    expect(new Set(unsent).size).toBe(unsent.length);
    // It stopped pulling soon after the error (the input is infinite).
    expect(pulled.length).toBeLessThan(2000);
    expect((err as SendStoppedError).summary).toMatchObject({ sent: 500, failed: unsent.length });
    expect((err as SendStoppedError).details).toMatchObject({ sent: 500, failed: unsent.length });
    // Not enumerable: printing the error must not dump the records.
    expect(Object.keys(err as object)).not.toContain('summary');
  });

  it('unsentRecordsOf is empty for any other error', () => {
    expect(unsentRecordsOf(new Error('boom'))).toEqual([]);
    expect(unsentRecordsOf(undefined)).toEqual([]);
    expect(unsentRecordsOf({ summary: { failedRecords: [{ record: {} }] } })).toEqual([]);
  });

  it('runSend: a stream deleted mid-run returns the unsent events (for the unsent file) and the cause', async () => {
    const { calls } = deletedAfterFirstPut();
    const res = await runSend(
      new KinesisClient({ region: 'ap-southeast-2' }),
      's',
      generatedItems({ seed: 3, clock: () => Date.UTC(2024, 0, 15, 10) }),
      { count: 1600, concurrency: 1 },
    );
    expect(res.stoppedBy?.message).toMatch(/ResourceNotFoundException/);
    expect(res.sent).toBe(500);
    expect(res.failed).toBe(res.pulled - 500);
    expect(res.failedRecords).toHaveLength(res.failed);
    expect(res.pulled).toBeGreaterThanOrEqual(1000);
    const unsent = new Set(res.failedRecords.map((f) => Buffer.from(f.record.data).toString()));
    for (const d of calls[1] ?? []) expect(unsent.has(d)).toBe(true);
    for (const d of calls[0] ?? []) expect(unsent.has(d)).toBe(false);
    // The totals are exactly the accepted batch's events, per currency in minor units.
    const expected = new Map<string, { count: number; totalMinor: number }>();
    for (const d of calls[0] ?? []) {
      const ev = JSON.parse(d) as { amount: number; currency: string };
      const m = toMinor(ev.amount, currencyExponent(ev.currency) as number);
      if (!m.ok) throw new Error(`unexpected amount in ${d}`);
      const t = expected.get(ev.currency) ?? { count: 0, totalMinor: 0 };
      expected.set(ev.currency, { count: t.count + 1, totalMinor: t.totalMinor + m.minor });
    }
    expect(res.totals).toEqual(expected);
  });

  it('pulls the source lazily: never more than concurrency batches ahead of what was sent', async () => {
    kinesisMock.reset();
    let sent = 0;
    kinesisMock.on(PutRecordsCommand).callsFake(async (input: PutRecordsCommandInput) => {
      await new Promise((r) => setTimeout(r, 1)); // the injected latency: a send that is not instant
      sent += input.Records?.length ?? 0;
      return {
        FailedRecordCount: 0,
        Records: (input.Records ?? []).map(() => ({ SequenceNumber: '1', ShardId: 's' })),
      };
    });
    let pulled = 0;
    let maxAhead = 0;
    function* infinite() {
      for (;;) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - sent);
        if (pulled > 20_000) return;
        yield { data: enc('x'), partitionKey: 'k' };
      }
    }
    const s = await sendRecords(new KinesisClient({ region: 'ap-southeast-2' }), 'stream', infinite(), {
      concurrency: 2,
    });
    expect(s.sent).toBe(20_000);
    // 2 in flight + 1 being built.
    expect(maxAhead).toBeLessThanOrEqual(3 * 500 + 1);
  });
});
