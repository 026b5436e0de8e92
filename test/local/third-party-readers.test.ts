/**
 * The archive is readable by tools nobody here wrote, record by record: the Python AWS CLI copies
 * the objects out of the local S3 (s3rver) with --endpoint-url, Python's gzip and json modules
 * read them as JSON lines, and DuckDB's read_json_auto reads the same files. The objects come
 * from the local pipeline (the same Firehose settings as the stack), after events and rejected
 * records went in: a record that is not JSON, one cut off, an empty one, a JSON object that is
 * not a valid event, and a valid event pretty-printed over several lines (a line_break dead letter;
 * what a line reader makes of it: docs/infra.md#the-archive).
 *
 * Skipped, with the reason printed, where `aws` or `python3` is not on PATH.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeEvent, type WireEvent } from '../../src/domain/event.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
} from '../helpers/local-pipeline.js';

const has = (cmd: string, arg: string): boolean => spawnSync(cmd, [arg], { encoding: 'utf8' }).status === 0;
const haveAws = has('aws', '--version');
const havePython = has('python3', '--version');
const skipReason = !haveAws
  ? '`aws` (the AWS CLI) is not on PATH'
  : !havePython
    ? '`python3` is not on PATH'
    : undefined;
if (skipReason !== undefined) console.log(`third-party readers test skipped: ${skipReason}`);

/** Reads every file under a directory as gzip (by its magic bytes) or plain JSON lines. */
const PY_JSON_LINES = `
import gzip, json, os, sys
records, bad, empty = [], [], 0
for root, _, files in os.walk(sys.argv[1]):
    for name in sorted(files):
        with open(os.path.join(root, name), 'rb') as f:
            data = f.read()
        if data[:2] == b'\\x1f\\x8b':
            data = gzip.decompress(data)
        for line in data.decode('utf-8').split('\\n')[:-1]:
            if line == '':
                empty += 1
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                bad.append(line)
print(json.dumps({'records': records, 'bad': bad, 'empty': empty}))
`;

const now = Date.now();
const events = makeEvents(30, { startMs: now - 4 * 60_000, spanMs: 3 * 60_000, seed: 5, prefix: 'TP' });
const pretty: WireEvent = {
  transaction_id: 'TPPRETTY01',
  amount: 7.5,
  currency: 'EUR',
  merchant: 'Pretty',
  event_timestamp: now - 2 * 60_000,
};
const prettyText = JSON.stringify(pretty, null, 2);
const invalidEvent = JSON.stringify({ ...pretty, transaction_id: 'TPBADCUR01', currency: 'XXX' });
const NOT_JSON = 'definitely not json';
const CUT = '{"transaction_id":"TPCUT00001","amount":';
// The cut record goes last: DuckDB's reader takes the line after a cut record with it (pinned below).
const REJECTED = ['', invalidEvent, NOT_JSON, CUT];

describe.skipIf(skipReason !== undefined)('third-party readers of the archive', () => {
  let p: TestPipeline;
  let dir: string;

  const awsCli = (...args: string[]): string => {
    const r = spawnSync(
      'aws',
      ['--endpoint-url', p.endpoints.s3Endpoint, '--region', p.config.region, ...args],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_PAGER: '',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      },
    );
    if (r.status !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** `aws s3 cp --recursive` of one prefix into a directory of its own. */
  const copy = (bucket: string, prefix: string): string => {
    const to = join(dir, `${bucket}-${prefix.replace(/\W/g, '')}`);
    awsCli('s3', 'cp', '--recursive', '--only-show-errors', `s3://${bucket}/${prefix}`, to);
    return to;
  };
  const python = (path: string): { records: unknown[]; bad: string[]; empty: number } => {
    const r = spawnSync('python3', ['-c', PY_JSON_LINES, path], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`python3: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const duckdb = async (sql: string): Promise<Record<string, unknown>[]> => {
    // Lazy, as the CLI loads it: DuckDB is a native module of some size.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      return (await c.runAndReadAll(sql)).getRowObjectsJson();
    } finally {
      c.closeSync();
      db.closeSync();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paypipe-3p-'));
    p = await startTestPipeline({ configOverrides: { shardCount: 1 } });
    await sendEvents(p, events.slice(0, 15));
    await sendRaw(
      p,
      REJECTED.map((data, i) => ({ data, partitionKey: `bad-${i}` })),
    );
    // Delivered first, so the multi-line record below lands in an object of its own.
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
    await sendRaw(p, [{ data: prettyText, partitionKey: 'pretty' }]);
    await sendEvents(p, events.slice(15));
    await p.waitForIdle({ flush: true, timeoutMs: 30_000 });
  }, 60_000);
  afterAll(async () => {
    await p?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('aws s3 ls lists .json.gz objects under the Hive partitions', () => {
    const listing = awsCli('s3', 'ls', '--recursive', `s3://${p.config.buckets.raw}/data/`);
    const keys = listing
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).at(-1) as string);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys)
      expect(k).toMatch(/^data\/year=\d{4}\/month=\d\d\/day=\d\d\/hour=\d\d\/.+\.json\.gz$/);
  });

  it('Python reads the raw objects record by record: every event, the rejected records as the lines they were', () => {
    const raw = python(copy(p.config.buckets.raw, 'data/'));
    // Every single-line record is one line: the events, and the rejected JSON object too.
    const ids = raw.records.map((r) => (r as { transaction_id?: string }).transaction_id).sort();
    expect(ids).toEqual([...events.map((e) => e.transaction_id), 'TPBADCUR01'].sort());
    expect(raw.records).toContainEqual(JSON.parse(invalidEvent));
    for (const e of events) expect(raw.records).toContainEqual(JSON.parse(serializeEvent(e)));
    // The empty record is an empty line; the others that are not JSON are lines that are not JSON.
    expect(raw.empty).toBe(1);
    // A record with newlines of its own is several lines to a line reader, none of them JSON.
    expect(raw.bad.sort()).toEqual([NOT_JSON, CUT, ...prettyText.split('\n')].sort());
  });

  it('Python reads the analytics objects: batch outputs whose counts are the valid one-line events', () => {
    const out = python(copy(p.config.buckets.analytics, 'aggregations/'));
    expect(out.bad).toEqual([]);
    expect(out.empty).toBe(0);
    const counts: Record<string, number> = {};
    for (const b of out.records as Array<{
      schema_version: number;
      aggregates: Array<{ currency: string; transaction_count: number }>;
    }>) {
      expect(b.schema_version).toBe(2);
      for (const a of b.aggregates) counts[a.currency] = (counts[a.currency] ?? 0) + a.transaction_count;
    }
    const expected: Record<string, number> = {};
    for (const e of events) expected[e.currency] = (expected[e.currency] ?? 0) + 1;
    expect(counts).toEqual(expected);
  });

  it('Python reads the dead letters: each rejected record with its reason and its exact bytes', () => {
    const dl = python(copy(p.config.buckets.analytics, p.config.aggregator.deadLetterPrefix));
    const got = (dl.records as Array<{ reason: string; data_base64: string }>).map((d) =>
      Buffer.from(d.data_base64, 'base64').toString('utf8'),
    );
    // The pretty-printed event too: the archive holds it as several lines, so it is not counted
    // (line_break) and the aggregates agree with what a line reader of the archive sees.
    expect(got.sort()).toEqual([...REJECTED, prettyText].sort());
    for (const d of dl.records as Array<{ reason: string }>) expect(d.reason).toMatch(/^[a-z_]+$/);
  });

  it("DuckDB's read_json_auto reads the raw objects holding rejected records, record by record", async () => {
    const raw = join(dir, `${p.config.buckets.raw}-data`);
    const files = readdirSync(raw, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.json.gz'))
      .map((f) => join(raw, f));
    const multiLine = files.filter((f) => gunzipSync(readFileSync(f)).toString('utf8').includes(prettyText));
    expect(multiLine).toHaveLength(1);
    const lines = files.filter((f) => !multiLine.includes(f));
    const list = (fs: string[]): string => `[${fs.map((f) => `'${f}'`).join(', ')}]`;
    const ids = async (from: string): Promise<unknown[]> =>
      (await duckdb(`SELECT transaction_id FROM ${from} WHERE transaction_id IS NOT NULL ORDER BY 1`)).map(
        (r) => r.transaction_id,
      );
    const multiText = gunzipSync(readFileSync(multiLine[0] as string)).toString('utf8');
    const all = [...events.map((e) => e.transaction_id), 'TPBADCUR01'].sort();
    // Every event of those objects, and the rejected record that is JSON; the lines that are not
    // JSON (and the empty one) are skipped, not fatal.
    const got = await ids(
      `read_json_auto(${list(lines)}, format = 'newline_delimited', ignore_errors = true)`,
    );
    expect(got).toEqual(all.filter((id) => !multiText.includes(`"transaction_id":"${id}"`)));
    expect(got).toContain('TPBADCUR01');
    expect(got).toContain(events[0]?.transaction_id);

    // The documented limit: a record with newlines of its own stops read_json_auto for its whole
    // object, even with ignore_errors; read_ndjson_objects reads every line-sized record of it.
    await expect(
      ids(`read_json_auto(${list(multiLine)}, format = 'newline_delimited', ignore_errors = true)`),
    ).rejects.toThrow(/Malformed JSON/);
    const objects = await duckdb(
      `SELECT json->>'transaction_id' AS transaction_id FROM read_ndjson_objects(${list(files)}, ignore_errors = true) WHERE json IS NOT NULL ORDER BY 1`,
    );
    expect(objects.map((r) => r.transaction_id)).toEqual(all);
  });

  // Pinned for whoever reads the archive with DuckDB (docs/infra.md): with ignore_errors,
  // read_json_auto takes the line after a cut record (an object left open) down with it;
  // read_ndjson_objects reads each line on its own.
  it('DuckDB: read_json_auto loses the line after a cut record, read_ndjson_objects does not', async () => {
    const file = join(dir, 'cut-then-event.json.gz');
    const after = serializeEvent(events[1] as WireEvent);
    writeFileSync(file, gzipSync([serializeEvent(events[0] as WireEvent), CUT, after, ''].join('\n')));
    const auto = await duckdb(
      `SELECT transaction_id FROM read_json_auto('${file}', format = 'newline_delimited', ignore_errors = true) WHERE transaction_id IS NOT NULL`,
    );
    expect(auto.map((r) => r.transaction_id)).toEqual([events[0]?.transaction_id]);
    const lines = await duckdb(
      `SELECT json->>'transaction_id' AS id FROM read_ndjson_objects('${file}', ignore_errors = true) WHERE json IS NOT NULL`,
    );
    expect(lines.map((r) => r.id)).toEqual([events[0]?.transaction_id, events[1]?.transaction_id]);
  });

  it("DuckDB's read_json_auto reads the analytics objects: the batch outputs' counts are the valid events", async () => {
    const analytics = join(dir, `${p.config.buckets.analytics}-aggregations`);
    const sums = await duckdb(
      `SELECT a.currency AS currency, CAST(sum(a.transaction_count) AS INTEGER) AS n
         FROM (SELECT unnest(aggregates) AS a FROM read_json_auto('${analytics}/**/*.json.gz', format = 'newline_delimited'))
        GROUP BY 1 ORDER BY 1`,
    );
    const expected: Record<string, number> = {};
    for (const e of events) expected[e.currency] = (expected[e.currency] ?? 0) + 1;
    expect(Object.fromEntries(sums.map((r) => [r.currency, r.n]))).toEqual(expected);
  });
});
