/**
 * The archive as the local pipeline writes it (the same settings as the stack's Firehoses):
 * raw objects are gzip JSON lines (`.json.gz`, each record's bytes then a newline), analytics
 * objects are `.json.gz` batch outputs, one per line. Hostile raw records go through the real
 * pipeline: a valid event with newlines of its own (pretty-printed JSON), an empty record, a
 * record that is not JSON, and a record cut off in the middle (what each does: docs/infra.md#the-archive). Then every reader (`results`,
 * `results --raw`, hence `--verify` and `demo`) must read objects of the old format too (raw:
 * uncompressed, records run together, no extension; analytics: `.gz`), mixed with new ones.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getObjectBytes, listKeys } from '../../src/aws/s3-objects.js';
import { serializeEvent, type WireEvent } from '../../src/domain/event.js';
import { type ReadResultsOutput, readResults } from '../../src/cli/results/results.js';
import { ARCHIVE_FILE_EXTENSION } from '../../src/pipeline/config.js';
import { partitionPrefix } from '../../src/pipeline/partitions.js';
import {
  makeEvents,
  readDeadLetters,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/local-pipeline.js';

const MIN = 60_000;
let p: TestPipeline;
const now = Date.now();
const events = makeEvents(40, { startMs: now - 5 * MIN, spanMs: 4 * MIN, seed: 3 });
// A valid event whose text holds newlines (JSON allows whitespace between tokens).
const pretty: WireEvent = {
  transaction_id: 'PRETTY00001',
  amount: 12.34,
  currency: 'USD',
  merchant: 'Multi line',
  event_timestamp: now - 2 * MIN,
};
const prettyText = JSON.stringify(pretty, null, 2);
const NOT_JSON = 'this is not json';
const CUT = '{"transaction_id":"CUT0000001","amount":';

beforeAll(async () => {
  p = await startTestPipeline({ configOverrides: { shardCount: 1 } });
  await sendEvents(p, events.slice(0, 20));
  await sendRaw(p, [
    { data: prettyText, partitionKey: 'pretty' },
    { data: NOT_JSON, partitionKey: 'garbage' },
    { data: CUT, partitionKey: 'cut' },
    { data: '', partitionKey: 'empty' },
  ]);
  await sendEvents(p, events.slice(20));
  await p.waitForIdle({ timeoutMs: 30_000 });
}, 60_000);
afterAll(async () => p?.cleanup());

const rawKeys = (): Promise<string[]> => listKeys(p.s3, p.config.buckets.raw, 'data/');

const read = (bucket: string, raw: boolean): Promise<ReadResultsOutput> =>
  readResults(p.s3, {
    bucket,
    range: { fromMs: now - 10 * MIN, toMs: now + MIN },
    raw,
    windowMs: p.config.aggregator.windowSeconds * 1000,
    maxFutureSkewMs: p.config.aggregator.maxFutureSkewMs,
    nowMs: Date.now(),
  });

/** Exact per-currency totals (minor units) of a list of events. */
function totalsOf(list: readonly WireEvent[]): Record<string, { count: number; totalMinor: number }> {
  const out: Record<string, { count: number; totalMinor: number }> = {};
  for (const e of list) {
    const exp = e.currency === 'JPY' ? 0 : 2;
    const t = out[e.currency] ?? { count: 0, totalMinor: 0 };
    out[e.currency] = t;
    t.count++;
    t.totalMinor += Math.round(e.amount * 10 ** exp);
  }
  return out;
}

describe('the archive the pipeline writes', () => {
  it('raw objects are gzip JSON lines named .json.gz: every record as it was put, then a newline', async () => {
    const keys = await rawKeys();
    expect(keys.length).toBeGreaterThan(0);
    let text = '';
    for (const k of keys) {
      expect(k).toMatch(
        /^data\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+-1-[\d-]+-[0-9a-f-]{36}\.json\.gz$/,
      );
      expect(k.endsWith(ARCHIVE_FILE_EXTENSION)).toBe(true);
      const body = gunzipSync(await getObjectBytes(p.s3, p.config.buckets.raw, k)).toString('utf8');
      expect(body.endsWith('\n')).toBe(true);
      text += body;
    }
    // Each record is there byte for byte followed by the delimiter, the hostile ones too.
    for (const e of events) expect(text).toContain(`${serializeEvent(e)}\n`);
    expect(text).toContain(`${prettyText}\n`);
    expect(text).toContain(`\n${NOT_JSON}\n`);
    expect(text).toContain(`\n${CUT}\n`);
    // The empty record is an empty line (Kinesis takes a record of 0 bytes).
    expect(text).toContain('\n\n');
    // One line per record, except the record that has newlines of its own.
    const lines = text.split('\n').slice(0, -1);
    expect(lines.length).toBe(events.length + 3 + prettyText.split('\n').length);
  });

  it('analytics objects are .json.gz, one batch output per line, no empty lines', async () => {
    const keys = await listKeys(p.s3, p.config.buckets.analytics, 'aggregations/');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k.endsWith('.json.gz')).toBe(true);
      const lines = gunzipSync(await getObjectBytes(p.s3, p.config.buckets.analytics, k))
        .toString('utf8')
        .split('\n');
      expect(lines.pop()).toBe('');
      for (const l of lines) expect(JSON.parse(l)).toMatchObject({ schema_version: 2 });
    }
  });

  it('the aggregator dead-letters the pretty-printed event (line_break: the archive holds it as several lines) and the three bad records', async () => {
    const dl = await readDeadLetters(p);
    const bad = dl.map((d) => Buffer.from(d.data_base64, 'base64').toString('utf8')).sort();
    expect(bad).toEqual([CUT, NOT_JSON, '', prettyText].sort());
    const pr = dl.find((d) => Buffer.from(d.data_base64, 'base64').toString('utf8') === prettyText);
    expect(pr?.reason).toBe('line_break');
  });

  // results --raw reads the archive with the bracket-tracking decoder, not by lines, and judges a
  // parsed value (no text): it still counts the pretty-printed event the aggregator dead-letters.
  it('results --raw reads every valid event, the pretty-printed one too, around the bad records', async () => {
    const r = await read(p.config.buckets.raw, true);
    expect(Object.fromEntries(r.totals)).toEqual(totalsOf([...events, pretty]));
    // The bad records are reported by object key, never silently dropped.
    expect(r.doc.problems.length).toBeGreaterThan(0);
  });
});

describe('old objects keep reading', () => {
  let oldBucket: string;
  const older = makeEvents(30, { startMs: now - 5 * MIN, spanMs: 4 * MIN, seed: 11, prefix: 'OLD' });

  beforeAll(async () => {
    // The raw archive as it used to be: uncompressed, records run together, no extension, in the
    // same hour as the new objects.
    const oldRaw = `${partitionPrefix('data/', now)}${p.config.firehose.raw.name}-1-old-format`;
    await p.s3.send(
      new PutObjectCommand({
        Bucket: p.config.buckets.raw,
        Key: oldRaw,
        Body: older.map((e) => serializeEvent(e)).join(''),
      }),
    );
    // Analytics as they used to be named (`.gz`), copied into a bucket of their own so the two
    // readings can be compared.
    oldBucket = `${p.config.buckets.analytics}-old`;
    await p.s3.send(new CreateBucketCommand({ Bucket: oldBucket }));
    for (const k of await listKeys(p.s3, p.config.buckets.analytics, 'aggregations/')) {
      const bytes = await getObjectBytes(p.s3, p.config.buckets.analytics, k);
      const body = gunzipSync(bytes);
      await p.s3.send(
        new PutObjectCommand({
          Bucket: oldBucket,
          Key: k.replace(/\.json\.gz$/, '.gz'),
          Body: gzipSync(body),
        }),
      );
    }
  });

  it('results --raw over old and new raw objects in one hour counts each event once', async () => {
    const r = await read(p.config.buckets.raw, true);
    expect(Object.fromEntries(r.totals)).toEqual(totalsOf([...events, pretty, ...older]));
    expect(r.doc.duplicates).toBe(0);
  });

  it('results over old .gz analytics objects equals results over the new .json.gz ones', async () => {
    const fresh = await read(p.config.buckets.analytics, false);
    const old = await read(oldBucket, false);
    expect(Object.fromEntries(old.totals)).toEqual(Object.fromEntries(fresh.totals));
    expect(old.doc.aggregates).toEqual(fresh.doc.aggregates);
    expect(old.doc.complete).toBe(true);
    // And both are what was sent, less the pretty-printed event (a line_break dead letter).
    expect(Object.fromEntries(fresh.totals)).toEqual(totalsOf(events));
  });
});
