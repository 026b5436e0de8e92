/**
 * The embedded query engine: DuckDB (`@duckdb/node-api`, loaded only when a query runs, never at
 * `--help`) over the local pipeline's objects, with the same table names and columns as the Glue
 * tables (src/pipeline/tables.ts), so the SQL of src/pipeline/query-sql.ts runs unchanged.
 *
 * The objects are fetched through the S3 API (the running local pipeline's s3rver, or any
 * S3-compatible endpoint) into a temporary directory laid out like the archive
 * (`<table>/year=…/month=…/day=…/hour=…/`), gunzipped, one record a line:
 *  - raw objects in the newline-delimited format are split into lines at CRLF, CR or LF (as Athena's
 *    text reader splits them); objects of the old format
 *    (records run together, no delimiter) are split at the top-level JSON boundaries, so old
 *    archives still read (a malformed record glued to its neighbour stays one line, as it is one
 *    blob in the object);
 *  - raw_lines holds each record's text; raw_events is a view over it that types the JSON fields
 *    (a line that is not JSON reads as NULLs, like the JSON SerDe with ignore.malformed.json);
 *  - batch_outputs and dead_letters read the JSON lines with the table's column types (decimals
 *    exact, sequence numbers text). Lines that are not JSON are skipped.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { forEachLimit, getObjectBytes, listObjects, type S3Client } from '../aws/s3.js';
import { PaypipeError } from '../errors.js';
import { isGzip } from '../pipeline/codec.js';
import { hourPrefixes, parsePartition } from '../pipeline/partitions.js';
import type { QueryTables, TableColumn, TableName } from '../pipeline/tables.js';

export interface QueryColumn {
  name: string;
  type: string;
}

/** Rows as JSON-safe values: decimals and big integers as exact strings. */
export interface QueryRows {
  columns: QueryColumn[];
  rows: Array<Record<string, string | number | boolean | null>>;
}

export interface LocalEngine {
  /** `userSql`: the statement is the user's (--sql): its errors are usage errors; otherwise our bug. */
  query(sql: string, o?: { userSql?: boolean }): Promise<QueryRows>;
  /** Bytes of objects fetched, and how many. */
  readonly loaded: { objects: number; bytes: number };
  /** Stops the running query (it rejects); for Ctrl-C. */
  interrupt(): void;
  /** Closes DuckDB and removes the temporary directory it owns (even when closing fails). */
  close(): void;
}

export interface LoadOptions {
  s3: S3Client;
  buckets: { raw: string; analytics: string };
  tables: QueryTables;
  /** Arrival hours to fetch ([fromMs, toMs] intersecting); everything under the prefixes when absent. */
  hours?: { fromMs: number; toMs: number };
  /** Where to put the files (a fresh temporary directory by default; removed by close()). */
  dir?: string;
  signal?: AbortSignal;
  concurrency?: number;
  /** Called after each object, for progress. */
  onObject?: (done: number, total: number) => void;
}

/** Hive/Glue type → DuckDB type (the subset tables.ts uses). */
export function duckType(hive: string): string {
  const t = hive.trim();
  if (t === 'string') return 'VARCHAR';
  if (t === 'int') return 'INTEGER';
  if (t === 'bigint') return 'BIGINT';
  if (t === 'boolean') return 'BOOLEAN';
  const dec = /^decimal\((\d+),(\d+)\)$/.exec(t);
  if (dec !== null) return `DECIMAL(${dec[1]},${dec[2]})`;
  if (t.startsWith('array<') && t.endsWith('>')) return `${duckType(t.slice(6, -1))}[]`;
  if (t.startsWith('struct<') && t.endsWith('>')) {
    const fields = splitTop(t.slice(7, -1)).map((f) => {
      const i = f.indexOf(':');
      return `${f.slice(0, i)} ${duckType(f.slice(i + 1))}`;
    });
    return `STRUCT(${fields.join(', ')})`;
  }
  throw new RangeError(`no DuckDB type for ${hive}`);
}

/** Splits on commas outside <…> and (…). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/**
 * The records of a raw object: lines of the newline-delimited format, or the top-level JSON
 * values of the old format (records run together). Old objects never end in `\n` (Firehose
 * appended nothing); new ones always do. Lines end as Hadoop's LineReader (Athena's text tables)
 * ends them — at CRLF, CR or LF — so a record with line breaks of its own (pretty-printed JSON, a
 * `line_break` dead letter) is the same fragments here as on AWS.
 */
export function splitRawRecords(text: string): string[] {
  if (text === '') return [];
  if (text.endsWith('\n')) {
    const lines = text.split(LINE_BREAK);
    lines.pop(); // the '' after the last line's terminator
    return lines;
  }
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if ((c === 125 || c === 93) && depth > 0) {
      depth--;
      if (depth === 0) {
        out.push(text.slice(start, i + 1));
        start = i + 1;
      }
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

const LINE_BREAK = /\r\n|\r|\n/;

const SQL_PATH = (p: string): string => `'${p.replace(/'/g, "''")}'`;

const columnsMap = (cols: readonly TableColumn[]): string =>
  `{${cols.map((c) => `'${c.name}': '${duckType(c.type)}'`).join(', ')}}`;

/** Downloads the tables' objects and opens DuckDB over them. */
export async function openLocalEngine(o: LoadOptions): Promise<LocalEngine> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'paypipe-query-'));
  const owned = o.dir === undefined;
  try {
    const loaded = await download(o, dir);
    return await openEngineOver(o.tables, dir, loaded, owned);
  } catch (e) {
    if (owned) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** DuckDB over a directory already laid out by addObject(); `owned`: close() removes it. */
export async function openEngineOver(
  tables: QueryTables,
  dir: string,
  loaded = { objects: 0, bytes: 0 },
  owned = false,
): Promise<LocalEngine> {
  const { DuckDBInstance } = await loadDuckDb();
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    for (const name of ['raw_lines', 'batch_outputs', 'dead_letters'] as const) addEmpty(dir, name);
    for (const stmt of viewStatements(tables, dir)) await conn.run(stmt);
  } catch (e) {
    conn.closeSync();
    instance.closeSync();
    throw e;
  }
  return {
    loaded,
    async query(sql: string, qo: { userSql?: boolean } = {}): Promise<QueryRows> {
      let reader: Awaited<ReturnType<typeof conn.runAndReadAll>>;
      try {
        reader = await conn.runAndReadAll(sql);
      } catch (e) {
        if (qo.userSql === true)
          throw new PaypipeError('USAGE', `the query failed: ${oneLineOf(e)}`, {
            hint: 'tables: raw_events, raw_lines, batch_outputs, dead_letters (docs/query.md)',
            cause: e,
          });
        throw new PaypipeError('INTERNAL', `paypipe's own query failed in DuckDB: ${oneLineOf(e)}`, {
          hint: 'this is a paypipe bug, not your input: please report it with the --debug output',
          cause: e,
        });
      }
      const names = reader.columnNames();
      const types = reader.columnTypes().map((t) => t.toString());
      const rows = reader.getRowObjectsJson() as QueryRows['rows'];
      return { columns: names.map((name, i) => ({ name, type: types[i] ?? '' })), rows };
    },
    interrupt(): void {
      conn.interrupt();
    },
    close(): void {
      try {
        conn.closeSync();
        instance.closeSync();
      } finally {
        if (owned) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** An empty file per table: DuckDB refuses a glob with no file, and 1970 never matches a range. */
function addEmpty(dir: string, table: string): void {
  const empty = join(dir, table, 'year=1970', 'month=01', 'day=01', 'hour=00');
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(empty, 'empty.json'), '');
}

let fileSeq = 0;

/**
 * Puts one object's bytes (gzip or not) where the views read them: `key` gives the partition
 * (objects outside `year=…/…/hour=…/` are not part of a table: false).
 */
export function addObject(
  dir: string,
  table: 'raw_lines' | 'batch_outputs' | 'dead_letters',
  key: string,
  bytes: Uint8Array,
): boolean {
  const part = parsePartition(key);
  if (part === undefined) return false;
  let body: Buffer;
  try {
    body = isGzip(bytes) ? gunzipSync(bytes) : Buffer.from(bytes);
  } catch {
    // A damaged object: nothing of it can be trusted; the merge sees its records missing.
    body = Buffer.alloc(0);
  }
  const folder = join(
    dir,
    table,
    `year=${part.year}`,
    `month=${String(part.month).padStart(2, '0')}`,
    `day=${String(part.day).padStart(2, '0')}`,
    `hour=${String(part.hour).padStart(2, '0')}`,
  );
  mkdirSync(folder, { recursive: true });
  const text = body.toString('utf8');
  const out =
    table === 'raw_lines'
      ? splitRawRecords(text)
          .map((line) => `${JSON.stringify({ line })}\n`)
          .join('')
      : text.endsWith('\n') || text === ''
        ? text
        : `${text}\n`;
  writeFileSync(join(folder, `${process.pid}-${String(fileSeq++).padStart(8, '0')}.json`), out);
  return true;
}

async function loadDuckDb(): Promise<typeof import('@duckdb/node-api')> {
  try {
    return await import('@duckdb/node-api');
  } catch (e) {
    throw new PaypipeError(
      'CONFIG',
      `the embedded query engine (@duckdb/node-api) did not load: ${oneLineOf(e)}`,
      {
        hint: 'reinstall the dependencies (npm ci); on AWS, run the query without --local (Athena)',
        cause: e,
      },
    );
  }
}

const oneLineOf = (e: unknown): string =>
  (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim().slice(0, 500);

/** CREATE VIEW statements for the four tables over `dir`. */
export function viewStatements(tables: QueryTables, dir: string): string[] {
  const t = tables.tables;
  const glob = (name: TableName): string => SQL_PATH(join(dir, name, '**', '*.json'));
  const hive = 'hive_partitioning = true, hive_types_autocast = false';
  const json = (name: 'batch_outputs' | 'dead_letters'): string =>
    `CREATE VIEW ${name} AS SELECT ${[...t[name].columns, ...t[name].partitionKeys].map((c) => c.name).join(', ')} FROM read_json(${glob(name)}, format = 'newline_delimited', columns = ${columnsMap(t[name].columns)}, ignore_errors = true, ${hive})`;
  const field = (c: TableColumn): string =>
    c.type === 'string'
      ? `json_extract_string(j, '$.${c.name}') AS ${c.name}`
      : `TRY_CAST(json_extract_string(j, '$.${c.name}') AS ${duckType(c.type)}) AS ${c.name}`;
  return [
    `CREATE VIEW raw_lines AS SELECT line, year, month, day, hour FROM read_json(${glob('raw_lines')}, format = 'newline_delimited', columns = {'line': 'VARCHAR'}, ${hive})`,
    `CREATE VIEW raw_events AS SELECT ${t.raw_events.columns.map(field).join(', ')}, year, month, day, hour FROM (SELECT CASE WHEN json_valid(line) THEN line END AS j, year, month, day, hour FROM raw_lines) r`,
    json('batch_outputs'),
    json('dead_letters'),
  ];
}

async function download(o: LoadOptions, dir: string): Promise<{ objects: number; bytes: number }> {
  const t = o.tables.tables;
  const plan = [
    { table: 'raw_lines', bucket: o.buckets.raw, prefix: t.raw_lines.prefix },
    { table: 'batch_outputs', bucket: o.buckets.analytics, prefix: t.batch_outputs.prefix },
    { table: 'dead_letters', bucket: o.buckets.analytics, prefix: t.dead_letters.prefix },
  ] as const;
  const jobs: Array<{ table: (typeof plan)[number]['table']; bucket: string; key: string }> = [];
  for (const p of plan) {
    const prefixes =
      o.hours === undefined ? [p.prefix] : hourPrefixes(p.prefix, o.hours.fromMs, o.hours.toMs);
    const objects = await listObjects(
      o.s3,
      p.bucket,
      prefixes,
      o.signal === undefined ? {} : { signal: o.signal },
    );
    for (const obj of objects) jobs.push({ table: p.table, bucket: p.bucket, key: obj.key });
  }
  let bytes = 0;
  let done = 0;
  await forEachLimit(jobs, o.concurrency ?? 16, async (job) => {
    if (o.signal?.aborted === true) throw o.signal.reason;
    if (parsePartition(job.key) === undefined) return;
    const raw = await getObjectBytes(o.s3, job.bucket, job.key);
    bytes += raw.byteLength;
    addObject(dir, job.table, job.key, raw);
    o.onObject?.(++done, jobs.length);
  });
  return { objects: jobs.length, bytes };
}
