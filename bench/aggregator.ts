/**
 * Aggregator throughput: the real handler (validation, exact-money aggregation, output encoding,
 * sender batching, logs and metrics) on a 10,000-record Kinesis event, against two ceilings on the
 * same records, interleaved round by round:
 * - decode + parse: base64, JSON.parse and issue #9's strict reading of the amount (its digits as
 *   written, into exact minor units) — the least any correct consumer pays;
 * - a minimal correct aggregator: that, plus the field checks, 1-minute windows per currency with
 *   exact count/total/min/max in a Map, and one JSON output — what a careful engineer writes
 *   without paypipe's dead letters, digests, metrics or logs.
 * Output clients are trivial in-memory objects (no SDK middleware), so the figure is the handler's own.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { serializeEvent } from '../src/domain/event.js';
import { generateEvents } from '../src/domain/generator.js';
import { createAggregatorHandler } from '../src/lambdas/aggregator-handler.js';
import { createMetrics } from '../src/lambdas/lib/metrics.js';
import { createLogger } from '../src/lambdas/lib/logger.js';
import type { BenchRow } from './types.js';
import { interleave, log, median, pairedRatio, profileInProcess, QUICK, spread } from './_util.js';

const RECORDS = 10_000;
const RUNS = QUICK ? 3 : 5;
const WARMUP = 2;
const ROUNDS = QUICK ? 3 : 7;
const NOW = Date.UTC(2024, 0, 15, 10, 30);

function buildEvent(): KinesisStreamEvent {
  const Records: KinesisStreamEvent['Records'] = [];
  let seq = 49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;
  for (const r of generateEvents({ seed: 2024, nowMs: NOW, spanMs: 5 * 60_000 })) {
    if (r.kind !== 'event') continue;
    seq += 1_000_000n;
    Records.push({
      awsRegion: 'ap-southeast-2',
      eventID: `shardId-000000000000:${seq}`,
      eventName: 'aws:kinesis:record',
      eventSource: 'aws:kinesis',
      eventSourceARN: 'arn:aws:kinesis:ap-southeast-2:123456789012:stream/paypipe-dev-input-stream',
      eventVersion: '1.0',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/bench',
      kinesis: {
        approximateArrivalTimestamp: (NOW + 1000) / 1000,
        data: Buffer.from(serializeEvent(r.event)).toString('base64'),
        kinesisSchemaVersion: '1.0',
        partitionKey: r.event.transaction_id,
        sequenceNumber: seq.toString(),
      },
    });
    if (Records.length >= RECORDS) break;
  }
  return { Records };
}

/** The cheapest fake that satisfies `client.send(command)`: every entry accepted. */
const fakeKinesis = {
  send: async (cmd: { input: { Records?: unknown[] } }) => ({
    FailedRecordCount: 0,
    Records: (cmd.input.Records ?? []).map((_, i) => ({
      SequenceNumber: String(i),
      ShardId: 'shardId-000000000000',
    })),
  }),
} as unknown as KinesisClient;
const fakeS3 = { send: async () => ({}) } as unknown as S3Client;

/** Records/s of `fn` over the event: the median of RUNS passes after WARMUP. */
async function timeRuns(fn: () => unknown): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(RECORDS / s);
  }
  return median(rates);
}

/** ISO 4217 decimals of the generator's currencies (the ceilings' own table: no paypipe code). */
const EXPONENT: Record<string, number> = { JPY: 0, KRW: 0, BHD: 3, KWD: 3 };
const POW10 = [1, 10, 100, 1000];

/**
 * The amount's digits as written in the record text, in exact minor units, or -1 when it is not a
 * plain non-negative decimal with at most `exp` decimals (issue #9: never read through a double).
 */
function strictMinor(text: string, exp: number): number {
  const k = text.indexOf('"amount":');
  if (k === -1) return -1;
  let j = k + 9;
  while (text.charCodeAt(j) === 32) j++;
  let int = 0;
  const first = j;
  for (let c = text.charCodeAt(j); c >= 48 && c <= 57; c = text.charCodeAt(++j)) int = int * 10 + (c - 48);
  if (j === first) return -1;
  let frac = 0;
  let digits = 0;
  if (text.charCodeAt(j) === 46) {
    for (let c = text.charCodeAt(++j); c >= 48 && c <= 57; c = text.charCodeAt(++j)) {
      if (++digits > exp) return -1;
      frac = frac * 10 + (c - 48);
    }
  }
  return int * (POW10[exp] as number) + frac * (POW10[exp - digits] as number);
}

export async function run(): Promise<BenchRow[]> {
  const event = buildEvent();
  let aggregatesOut = 0;
  const handler = createAggregatorHandler({
    kinesis: fakeKinesis,
    s3: fakeS3,
    outputStreamName: 'bench-output',
    deadLetterBucket: 'bench-bucket',
    deadLetterPrefix: 'dead-letters/',
    windowSeconds: 60,
    maxFutureSkewMs: 86_400_000,
    logger: createLogger({
      service: 'bench',
      sink: (l) => {
        aggregatesOut = (JSON.parse(l) as { aggregates_out: number }).aggregates_out;
      },
    }),
    // The EMF lines are built as in the Lambda (their cost is part of the figure), then dropped.
    metrics: createMetrics({ environment: 'bench', sink: (l) => void l }),
  });
  let sink = 0;
  const decodeParse = (): void => {
    for (const r of event.Records) {
      const text = Buffer.from(r.kinesis.data, 'base64').toString('utf8');
      const o = JSON.parse(text) as { currency: string };
      sink += strictMinor(text, EXPONENT[o.currency] ?? 2);
    }
  };
  let minimalCells = 0;
  const minimal = (): void => {
    const cells = new Map<string, { count: number; total: number; min: number; max: number }>();
    let invalid = 0;
    for (const r of event.Records) {
      const text = Buffer.from(r.kinesis.data, 'base64').toString('utf8');
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text) as Record<string, unknown>;
      } catch {
        invalid++;
        continue;
      }
      const { transaction_id, currency, merchant, event_timestamp: ts } = o;
      const exp =
        typeof currency === 'string' && /^[A-Z]{3}$/.test(currency) ? (EXPONENT[currency] ?? 2) : -1;
      const minor = exp === -1 ? -1 : strictMinor(text, exp);
      if (
        typeof transaction_id !== 'string' ||
        transaction_id === '' ||
        typeof merchant !== 'string' ||
        typeof ts !== 'number' ||
        !Number.isInteger(ts) ||
        minor < 0
      ) {
        invalid++;
        continue;
      }
      const key = `${ts - (ts % 60_000)}|${currency}`;
      const c = cells.get(key);
      if (c === undefined) cells.set(key, { count: 1, total: minor, min: minor, max: minor });
      else {
        c.count++;
        c.total += minor;
        if (minor < c.min) c.min = minor;
        if (minor > c.max) c.max = minor;
      }
    }
    sink += JSON.stringify([...cells]).length + invalid;
    minimalCells = cells.size;
  };
  const s = await interleave(
    ROUNDS,
    {
      handler: () =>
        timeRuns(async () => {
          const res = await handler(event);
          if (res.batchItemFailures.length > 0) throw new Error('bench batch failed');
        }),
      decodeParse: () => timeRuns(decodeParse),
      minimal: () => timeRuns(minimal),
    },
    (n, r, x) => log(`round ${r + 1} ${n}: ${Math.round(x).toLocaleString('en-US')} records/s`),
  );
  if (sink === 0 || aggregatesOut === 0) throw new Error('bench did no work');
  if (minimalCells !== aggregatesOut)
    throw new Error(`the minimal aggregator made ${minimalCells} cells, the handler ${aggregatesOut}`);
  const p = spread(s.handler);
  const vsParse = pairedRatio(s.handler, s.decodeParse);
  const bound =
    vsParse >= 0.7
      ? undefined
      : `profile of 5 handler passes: ${await profileInProcess(async () => {
          for (let i = 0; i < 5; i++) await handler(event);
        })}. The handler decodes each record's base64 into one reused buffer and reads the usual compact record in one pass over its bytes (readCompactRecord: no text, no JSON.parse, no objects); records of any other shape take the full validation (UTF-8 check, decode, JSON.parse, top-level scan). On top of that it windows, renders the batch output with its SHA-256 digest, logs and emits metrics`;
  const row = (id: string, name: string, samples: number[], target: string, min: number | null): BenchRow => {
    const c = spread(samples);
    const ratio = pairedRatio(s.handler, samples);
    return {
      id,
      figure: `aggregator handler, ${RECORDS.toLocaleString('en-US')}-record event, vs ${name}`,
      unit: 'records/s',
      paypipe: p.median,
      paypipeSpread: [p.lo, p.hi],
      ceilingName: name,
      ceiling: c.median,
      ceilingSpread: [c.lo, c.hi],
      ratio,
      target,
      met: min === null ? null : ratio >= min,
      ...(min !== null && ratio < min && bound !== undefined ? { bound } : {}),
      rounds: ROUNDS,
      note: `each sample the median of ${RUNS} passes after ${WARMUP} warm-ups; ${aggregatesOut} cells per pass on both sides`,
    };
  };
  log(`median of the handler ${Math.round(median(s.handler)).toLocaleString('en-US')} records/s`);
  return [
    row(
      'aggregator-vs-decode-parse',
      'base64 + JSON.parse + strict amounts',
      s.decodeParse,
      '≥ 0.7× throughput',
      0.7,
    ),
    row('aggregator-vs-minimal', 'a minimal correct aggregator', s.minimal, '—', null),
  ];
}
