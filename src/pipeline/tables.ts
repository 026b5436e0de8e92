/**
 * The query tables: the one description of what the archive holds, for every engine that reads it.
 * The stack builds its Glue tables from it (src/infra), the embedded engine creates views of the
 * same names over the local pipeline's objects (src/local/query-engine.ts), and the SQL in
 * src/pipeline/query-sql.ts is written against these names and columns. Locations come from the
 * SAME prefixes the Firehose streams and the dead-letter writer use (config.ts PREFIXES), so a
 * prefix changed there moves the tables with it.
 *
 * Money stays exact: amounts are decimals (never double), sequence numbers strings (they pass
 * 2^53 and have up to 128 digits). Partitions are Firehose's arrival-time `year=/month=/day=/hour=`
 * folders, projected (no crawler, no MSCK REPAIR); they are strings ('2024', '01') so a range
 * predicate is one string comparison in every engine.
 */
import { PREFIXES, type PipelineConfig } from './config.js';

export type TableName = 'raw_events' | 'raw_lines' | 'batch_outputs' | 'dead_letters';
export const TABLE_NAMES: readonly TableName[] = ['raw_events', 'raw_lines', 'batch_outputs', 'dead_letters'];

export interface TableColumn {
  readonly name: string;
  /** Glue/Hive type, e.g. `string`, `decimal(38,9)`, `array<struct<…>>`. */
  readonly type: string;
  readonly comment: string;
}

export interface QueryTable {
  readonly name: TableName;
  readonly description: string;
  /** Which of the stack's buckets holds it. */
  readonly bucket: 'raw' | 'analytics';
  /** Key prefix before `year=` (e.g. `data/`), the same string the writer's prefix starts with. */
  readonly prefix: string;
  readonly columns: readonly TableColumn[];
  readonly partitionKeys: readonly TableColumn[];
  readonly serde: { readonly library: string; readonly parameters: Readonly<Record<string, string>> };
  readonly inputFormat: string;
  readonly outputFormat: string;
  /** Glue table parameters: `classification` and the partition projection. */
  readonly parameters: (bucketName: string) => Readonly<Record<string, string>>;
  /** `s3://<bucket>/<prefix>`: the table's location (Glue wants the trailing slash). */
  readonly location: (bucketName: string) => string;
}

export interface QueryTables {
  readonly database: string;
  readonly tables: Readonly<Record<TableName, QueryTable>>;
}

/** Exact enough for any amount the aggregator accepts (≤ 10^12 minor units, ≤ 3 decimals) and then some. */
export const AMOUNT_TYPE = 'decimal(38,9)';
/** Totals: 15 significant digits at most (MAX_TOTAL_MINOR), 3 decimals at most (BHD). */
export const TOTAL_TYPE = 'decimal(38,3)';

/** The years the projection enumerates (a query without a partition predicate would list them all). */
export const PROJECTION_YEARS = { min: 2024, max: 2099 } as const;

const PARTITION_KEYS: readonly TableColumn[] = [
  { name: 'year', type: 'string', comment: 'UTC year the record arrived (Firehose arrival time), 4 digits' },
  { name: 'month', type: 'string', comment: '01-12' },
  { name: 'day', type: 'string', comment: '01-31' },
  { name: 'hour', type: 'string', comment: '00-23' },
];

const JSON_SERDE = {
  library: 'org.openx.data.jsonserde.JsonSerDe',
  // A rejected record in the raw archive must not fail the whole query: it reads as a row of NULLs
  // (raw_lines has its bytes). Keys are matched as written (`case.insensitive` off).
  parameters: { 'ignore.malformed.json': 'true', 'case.insensitive': 'false', 'dots.in.keys': 'false' },
} as const;

/** One column, the whole line: `(?s)` so `.` also takes \u2028, \u0085 (Java line terminators). */
const LINE_SERDE = {
  library: 'org.apache.hadoop.hive.serde2.RegexSerDe',
  parameters: { 'input.regex': '(?s)(.*)' },
} as const;

const TEXT_INPUT = 'org.apache.hadoop.mapred.TextInputFormat';
const TEXT_OUTPUT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

/** Glue database names: lower case letters, digits and underscores (Athena refuses hyphens). */
export function glueDatabaseName(stackName: string): string {
  const s = stackName
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  const name = s === '' ? 'paypipe' : /^[0-9]/.test(s) ? `p_${s}` : s;
  return name.slice(0, 255);
}

/**
 * The projection parameters for a table under `prefix` of `bucketName`. The location template is
 * the Firehose prefix with its `!{timestamp:…}` placeholders as `${column}`.
 */
export function projectionParameters(bucketName: string, prefix: string): Record<string, string> {
  const two = (name: string, lo: number, hi: number): Record<string, string> => ({
    [`projection.${name}.type`]: 'integer',
    [`projection.${name}.range`]: `${String(lo).padStart(2, '0')},${hi}`,
    [`projection.${name}.digits`]: '2',
  });
  return {
    'projection.enabled': 'true',
    'projection.year.type': 'integer',
    'projection.year.range': `${PROJECTION_YEARS.min},${PROJECTION_YEARS.max}`,
    'projection.year.digits': '4',
    ...two('month', 1, 12),
    ...two('day', 1, 31),
    ...two('hour', 0, 23),
    'storage.location.template': `s3://${bucketName}/${prefix}year=\${year}/month=\${month}/day=\${day}/hour=\${hour}/`,
  };
}

/** The prefix before the partition placeholders of a Firehose prefix (`data/year=!{…}/…` → `data/`). */
export function basePrefix(firehosePrefix: string): string {
  const i = firehosePrefix.indexOf('year=');
  return i === -1 ? firehosePrefix : firehosePrefix.slice(0, i);
}

const col = (name: string, type: string, comment: string): TableColumn => ({ name, type, comment });

/** The aggregate cell as the aggregator renders it (src/domain/aggregate.ts renderCell). */
export const AGGREGATE_STRUCT = `struct<window_start:string,window_end:string,currency:string,transaction_count:bigint,total_amount:${TOTAL_TYPE},avg_amount:${TOTAL_TYPE},min_amount:${TOTAL_TYPE},max_amount:${TOTAL_TYPE}>`;

export function queryTables(config: PipelineConfig): QueryTables {
  const rawPrefix = basePrefix(config.firehose.raw.prefix);
  const analyticsPrefix = basePrefix(config.firehose.analytics.prefix);
  const deadLetterPrefix = config.aggregator.deadLetterPrefix;
  const table = (
    t: Omit<QueryTable, 'parameters' | 'location' | 'partitionKeys' | 'inputFormat' | 'outputFormat'> & {
      classification: string;
    },
  ): QueryTable => {
    const { classification, ...rest } = t;
    return {
      ...rest,
      partitionKeys: PARTITION_KEYS,
      inputFormat: TEXT_INPUT,
      outputFormat: TEXT_OUTPUT,
      location: (bucket) => `s3://${bucket}/${t.prefix}`,
      parameters: (bucket) => ({
        classification,
        EXTERNAL: 'TRUE',
        ...projectionParameters(bucket, t.prefix),
      }),
    };
  };
  return {
    database: glueDatabaseName(config.stackName),
    tables: {
      raw_events: table({
        name: 'raw_events',
        description:
          'Raw input events as the producers sent them, one per line (rejected records read as NULLs: see raw_lines)',
        bucket: 'raw',
        prefix: rawPrefix,
        classification: 'json',
        columns: [
          col('transaction_id', 'string', 'as sent'),
          col('amount', AMOUNT_TYPE, 'major units, exact decimal (never a double)'),
          col('currency', 'string', 'ISO 4217 code'),
          col('merchant', 'string', 'as sent'),
          col('event_timestamp', 'bigint', 'Unix ms, the windowing clock'),
        ],
        serde: JSON_SERDE,
      }),
      raw_lines: table({
        name: 'raw_lines',
        description:
          "Each raw record's text, one row per line, for byte-exact accounting (same objects as raw_events)",
        bucket: 'raw',
        prefix: rawPrefix,
        classification: 'text',
        columns: [col('line', 'string', 'the record as written, without its newline')],
        serde: LINE_SERDE,
      }),
      batch_outputs: table({
        name: 'batch_outputs',
        description: "The aggregator's batch outputs (schema_version 2): one row per part, aggregates inside",
        bucket: 'analytics',
        prefix: analyticsPrefix,
        classification: 'json',
        columns: [
          col('schema_version', 'int', '2'),
          col('shard_id', 'string', 'input shard'),
          col('first_sequence_number', 'string', 'decimal string, up to 128 digits'),
          col('last_sequence_number', 'string', 'decimal string, up to 128 digits'),
          col('records', 'bigint', 'input records in the batch, valid or not'),
          col('digest', 'string', 'identifies the whole output (all parts)'),
          col('part', 'int', '1..parts'),
          col('parts', 'int', 'parts of this output'),
          col('aggregates', `array<${AGGREGATE_STRUCT}>`, 'one per (window, currency)'),
        ],
        serde: JSON_SERDE,
      }),
      dead_letters: table({
        name: 'dead_letters',
        description: 'Records the aggregator rejected, with the reason and the original bytes',
        bucket: 'analytics',
        prefix: deadLetterPrefix,
        classification: 'json',
        columns: [
          col('reason', 'string', 'reject reason (src/domain/event.ts REJECT_REASONS)'),
          col('detail', 'string', 'one line'),
          col('shard_id', 'string', 'input shard'),
          col('sequence_number', 'string', 'decimal string'),
          col('partition_key', 'string', 'as sent'),
          col('approximate_arrival_timestamp', 'decimal(20,3)', 'epoch seconds, ms decimals'),
          col('data_base64', 'string', 'the record, base64'),
        ],
        serde: JSON_SERDE,
      }),
    },
  };
}

/** The prefixes the tables read, for checks (doctor, tests) that they match the writers'. */
export const TABLE_PREFIX_SOURCES = {
  raw_events: PREFIXES.raw,
  raw_lines: PREFIXES.raw,
  batch_outputs: PREFIXES.aggregations,
  dead_letters: PREFIXES.deadLetters,
} as const;
