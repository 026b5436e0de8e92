/**
 * The merge rule (docs/windowing.md, src/domain/exact-merge.ts) in SQL, over the tables of
 * tables.ts, for Athena (engine v3, Trino) and the embedded DuckDB: one text, with a small dialect
 * switch where the two engines spell a thing differently (regex match, JSON of a value, UNNEST of
 * an array of structs, ISO time to epoch ms, JSON field extraction).
 *
 * How the rule becomes SQL, per input shard:
 *  - outputs: batch output rows grouped by their envelope (shard, range, records, parts, digest);
 *    copies of a part (Firehose duplicates, redeliveries) collapse; COMPLETE = every part present
 *    and no two copies of a part differ.
 *  - nodes: the sorted sequence endpoints of all outputs (complete or not). Sequence numbers are
 *    decimal strings up to 128 digits: sorted and compared as left-padded strings, never numbers.
 *  - edges: a complete output covering endpoints a..b is an edge a → b+1; a chain of disjoint
 *    complete outputs covering every endpoint is a path 1 → m+1.
 *  - segments: a node no edge jumps over is a CUT; every path passes every cut, so the search
 *    splits into the short stretches between cuts (a healthy shard: every node is a cut, every
 *    stretch one edge). The recursive CTE walks stretches only, so its depth is the longest chain
 *    inside one retry episode, not the length of the shard (Athena caps recursion at 10 levels: a
 *    deeper episode fails the query loudly, never silently).
 *  - a stretch with no path is a GAP (nothing of it is counted); one whose paths give different
 *    cell totals is AMBIGUOUS (the first path, fewest outputs, is counted); an output with two
 *    different copies of a part is CONFLICTING. The windows of every output touching one of those
 *    are UNDECIDED.
 * What the TypeScript merge does and this does not: it verifies each output's SHA-256 digest
 * (here: copies are compared, the digest is not recomputed), it counts around a gap what a path
 * with skips can still cover (here: a whole stretch is left out, and its windows are undecided —
 * so the SQL's undecided windows include the TypeScript's), and it reads v1 aggregates (objects
 * from before batch outputs; not in batch_outputs).
 */
import { partitionPrefix } from './partitions.js';

export type Dialect = 'duckdb' | 'trino';

const HOUR_MS = 3_600_000;
/** Shard number × KEY + node index: one bigint key per (shard, node), for cheap joins in the recursion. */
const KEY = 4_294_967_296;
const DAY_MS = 86_400_000;

/** The spellings that differ between DuckDB and Athena engine v3 (Trino). */
export interface DialectSql {
  regexLike(expr: string, pattern: string): string;
  /** A value (array of structs) as JSON text: copies of a part compare through it. */
  jsonText(expr: string): string;
  /** FROM-clause fragment unnesting `aggregates` of alias `o` into columns of alias `c`. */
  unnestCells(o: string): string;
  /** The column of alias `c` (after unnestCells). */
  cell(field: string): string;
  /** ISO-8601 `…T…Z` text → epoch milliseconds (bigint). */
  isoToMs(expr: string): string;
  /** A top-level JSON field of a text, as text (NULL when absent or the text is not JSON). */
  jsonField(expr: string, field: string): string;
  /** Text → base64 of its UTF-8 bytes. */
  base64(expr: string): string;
  /**
   * Before a CTE's body: DuckDB inlines a CTE at every reference unless told to materialize it
   * (the recursive step would recompute the edges at each level); Trino plans CTEs itself.
   */
  materialized: string;
  /** A comma-separated text → array of its pieces. */
  split(expr: string): string;
  /** Base64 → the text of its bytes as UTF-8 (NULL where they are not, in DuckDB; U+FFFD in Trino). */
  textOfBase64(expr: string): string;
  /** A text → its lines as a line reader splits them (on CRLF, CR and LF; empty ones kept). */
  splitLines(expr: string): string;
}

const CELL_FIELDS = [
  'window_start',
  'window_end',
  'currency',
  'transaction_count',
  'total_amount',
  'avg_amount',
  'min_amount',
  'max_amount',
] as const;

/**
 * A line break as Hadoop's LineReader (Athena's text tables) splits on: CRLF, CR or LF. The local
 * engine splits raw objects the same way (src/local/query-engine.ts splitRawRecords).
 */
const LINE_BREAK = '\\r\\n|\\r|\\n';

/** True when the text holds a CR or LF (strpos and chr: the same in both dialects). */
const holdsLineBreak = (e: string): string => `(strpos(${e}, chr(10)) > 0 OR strpos(${e}, chr(13)) > 0)`;

export const DIALECTS: Readonly<Record<Dialect, DialectSql>> = {
  duckdb: {
    regexLike: (e, p) => `regexp_full_match(${e}, '${p}')`,
    jsonText: (e) => `CAST(to_json(${e}) AS VARCHAR)`,
    unnestCells: (o) => `CROSS JOIN UNNEST(${o}.aggregates) AS u(c)`,
    cell: (f) => `u.c.${f}`,
    isoToMs: (e) => `epoch_ms(CAST(${e} AS TIMESTAMPTZ))`,
    jsonField: (e, f) => `json_extract_string(CASE WHEN json_valid(${e}) THEN ${e} END, '$.${f}')`,
    base64: (e) => `to_base64(encode(${e}))`,
    materialized: 'MATERIALIZED ',
    split: (e) => `string_split(${e}, ',')`,
    textOfBase64: (e) => `try(decode(from_base64(${e})))`,
    splitLines: (e) => `regexp_split_to_array(${e}, '${LINE_BREAK}')`,
  },
  trino: {
    regexLike: (e, p) => `regexp_like(${e}, '${p}')`,
    jsonText: (e) => `json_format(CAST(${e} AS JSON))`,
    unnestCells: (o) => `CROSS JOIN UNNEST(${o}.aggregates) AS u(${CELL_FIELDS.join(', ')})`,
    cell: (f) => `u.${f}`,
    isoToMs: (e) => `CAST(to_unixtime(from_iso8601_timestamp(${e})) * 1000 AS bigint)`,
    jsonField: (e, f) => `json_extract_scalar(try(json_parse(${e})), '$.${f}')`,
    base64: (e) => `to_base64(to_utf8(${e}))`,
    materialized: '',
    split: (e) => `split(${e}, ',')`,
    textOfBase64: (e) => `try(from_utf8(from_base64(${e})))`,
    splitLines: (e) => `regexp_split(${e}, '${LINE_BREAK}')`,
  },
};

/** Text as a SQL string literal. */
export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/**
 * A predicate on the partition columns selecting the arrival hours that intersect [fromMs, toMs]:
 * whole days as `(year, month, day)`, partial days with their hours listed, so Athena's partition
 * projection prunes to exactly those prefixes. `TRUE` without a range.
 */
export function partitionPredicate(fromMs: number | undefined, toMs: number | undefined, alias = ''): string {
  if (fromMs === undefined || toMs === undefined) return 'TRUE';
  if (!(fromMs <= toMs)) return 'FALSE';
  const a = alias === '' ? '' : `${alias}.`;
  const terms: string[] = [];
  const firstHour = Math.floor(fromMs / HOUR_MS) * HOUR_MS;
  for (let day = Math.floor(firstHour / DAY_MS) * DAY_MS; day <= toMs; day += DAY_MS) {
    const p = /year=(\d{4})\/month=(\d{2})\/day=(\d{2})/.exec(partitionPrefix('', day)) as RegExpExecArray;
    const dayTerm = `${a}year = '${p[1]}' AND ${a}month = '${p[2]}' AND ${a}day = '${p[3]}'`;
    const lo = Math.max(firstHour, day);
    const hi = Math.min(toMs, day + DAY_MS - 1);
    if (lo === day && hi >= day + DAY_MS - HOUR_MS) {
      terms.push(`(${dayTerm})`);
      continue;
    }
    const hours: string[] = [];
    for (let h = Math.floor(lo / HOUR_MS) * HOUR_MS; h <= hi; h += HOUR_MS) {
      hours.push(`'${String(new Date(h).getUTCHours()).padStart(2, '0')}'`);
    }
    terms.push(`(${dayTerm} AND ${a}hour IN (${hours.join(', ')}))`);
  }
  return terms.length === 0 ? 'FALSE' : `(${terms.join(' OR ')})`;
}

export interface MergeQueryOptions {
  /** Windows that overlap [fromMs, toMs) are kept (like `results`); all when absent. */
  fromMs?: number;
  toMs?: number;
  /**
   * Arrival hours read: those of the range plus this much after it (a window's aggregate lands
   * after the window closes, by up to Firehose's buffer and the aggregator's retries). Default 1 h,
   * as `results` reads.
   */
  slackMs?: number;
}

/** The CTEs shared by the merged totals and the undecided windows (everything up to the chain). */
function mergeCtes(d: DialectSql, o: MergeQueryOptions): string {
  const slack = o.slackMs ?? HOUR_MS;
  const pf = partitionPredicate(o.fromMs, o.toMs === undefined ? undefined : o.toMs + slack);
  const seqOk = (c: string): string => d.regexLike(c, '[0-9]{1,128}');
  return `bo AS ${d.materialized}(
  SELECT shard_id, first_sequence_number AS f, last_sequence_number AS l, records, parts, digest, part,
    aggregates, ${d.jsonText('aggregates')} AS agg_text,
    shard_id || '/' || digest || '/' || first_sequence_number || '/' || last_sequence_number || '/'
      || CAST(parts AS varchar) || '/' || CAST(records AS varchar) AS okey
  FROM batch_outputs
  WHERE schema_version = 2 AND ${pf}
    AND shard_id IS NOT NULL AND digest IS NOT NULL AND records IS NOT NULL
    AND parts >= 1 AND part >= 1 AND part <= parts
    AND ${seqOk('first_sequence_number')} AND ${seqOk('last_sequence_number')}
),
part_copies AS (
  SELECT okey, shard_id, f, l, parts, part, count(DISTINCT agg_text) AS variants
  FROM bo GROUP BY okey, shard_id, f, l, parts, part
),
outputs AS ${d.materialized}(
  SELECT okey, shard_id, lpad(f, 128, '0') AS fk, lpad(l, 128, '0') AS lk, f, l,
    CASE WHEN count(*) = max(parts) AND max(variants) = 1 THEN 1 ELSE 0 END AS complete,
    max(variants) AS variants
  FROM part_copies GROUP BY okey, shard_id, f, l
),
kept AS (
  SELECT okey, part, aggregates,
    row_number() OVER (PARTITION BY okey, part ORDER BY agg_text) AS copy
  FROM bo
),
cells AS ${d.materialized}(
  SELECT k.okey,
    ${CELL_FIELDS.map((f) => `${d.cell(f)} AS ${f}`).join(',\n    ')}
  FROM kept k ${d.unnestCells('k')}
  WHERE k.copy = 1
),
ends AS ${d.materialized}(
  SELECT okey, shard_id, side, k, dense_rank() OVER (PARTITION BY shard_id ORDER BY k) AS i,
    dense_rank() OVER (ORDER BY shard_id) AS sn
  FROM (
    SELECT okey, shard_id, 'f' AS side, fk AS k FROM outputs
    UNION ALL SELECT okey, shard_id, 'l' AS side, lk AS k FROM outputs
  ) e
),
nodes AS ${d.materialized}(SELECT DISTINCT shard_id, sn, k, i, sn * ${KEY} + i AS nk FROM ends),
shard_sizes AS (SELECT shard_id, sn, max(i) AS m FROM nodes GROUP BY shard_id, sn),
spans AS ${d.materialized}(
  SELECT o.okey, o.shard_id, x.sn, o.complete, o.variants, o.fk, o.lk, x.a, x.b
  FROM outputs o JOIN (
    SELECT okey, max(sn) AS sn, max(CASE WHEN side = 'f' THEN i END) AS a,
      max(CASE WHEN side = 'l' THEN i END) + 1 AS b
    FROM ends GROUP BY okey
  ) x ON x.okey = o.okey
),
edges AS ${d.materialized}(
  SELECT okey, shard_id, sn, a, b, sn * ${KEY} + a AS ak, sn * ${KEY} + b AS bk
  FROM spans WHERE complete = 1 AND fk <= lk
),
all_nodes AS (
  SELECT shard_id, sn, i FROM nodes UNION ALL SELECT shard_id, sn, m + 1 AS i FROM shard_sizes
),
sweep AS (
  SELECT shard_id, sn, i AS pos, 0 AS kind, CAST(NULL AS bigint) AS b FROM all_nodes
  UNION ALL SELECT shard_id, sn, a AS pos, 1 AS kind, b FROM edges
),
cover AS (
  SELECT shard_id, sn, pos, kind,
    max(b) OVER (PARTITION BY shard_id ORDER BY pos, kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS reach
  FROM sweep
),
cuts AS (
  SELECT shard_id, sn, pos AS i, CASE WHEN coalesce(reach, 0) <= pos THEN 1 ELSE 0 END AS cut
  FROM cover WHERE kind = 0
),
seg_of AS (
  SELECT shard_id, sn, i,
    sum(cut) OVER (PARTITION BY shard_id ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS seg
  FROM cuts
),
seg_starts AS (SELECT shard_id, sn, seg, min(i) AS s_node FROM seg_of GROUP BY shard_id, sn, seg),
segs AS (
  SELECT shard_id, sn, seg, s_node, lead(s_node) OVER (PARTITION BY shard_id ORDER BY seg) AS e_node
  FROM seg_starts
),
stretches AS ${d.materialized}(
  SELECT shard_id, sn, seg, s_node, e_node, sn * ${KEY} + seg AS gk, sn * ${KEY} + s_node AS sk,
    sn * ${KEY} + e_node AS ek
  FROM segs WHERE e_node IS NOT NULL
),
paths (gk, ek, node, path, n) AS (
  SELECT gk, ek, sk, CAST(',' AS varchar), 0 FROM stretches
  UNION ALL
  SELECT p.gk, p.ek, e.bk, p.path || e.okey || ',', p.n + 1
  FROM paths p JOIN edges e ON e.ak = p.node
  WHERE p.node < p.ek
),
full_paths AS ${d.materialized}(
  SELECT g.shard_id, g.seg, p.path, p.n
  FROM paths p JOIN stretches g ON g.gk = p.gk
  WHERE p.node = p.ek
),
path_outputs AS ${d.materialized}(
  SELECT fp.shard_id, fp.seg, fp.path, fp.n, t.okey
  FROM full_paths fp CROSS JOIN UNNEST(${d.split('fp.path')}) AS t(okey)
  WHERE t.okey <> ''
),
chosen AS (
  SELECT shard_id, seg, path FROM (
    SELECT shard_id, seg, path, row_number() OVER (PARTITION BY shard_id, seg ORDER BY n, path) AS r
    FROM full_paths
  ) t WHERE r = 1
),
n_paths AS ${d.materialized}(SELECT shard_id, seg, count(*) AS n FROM full_paths GROUP BY shard_id, seg),
path_cells AS (
  SELECT po.shard_id, po.seg, po.path, c.window_start, c.currency,
    CAST(sum(c.transaction_count) AS varchar) || '/' || CAST(sum(c.total_amount) AS varchar) || '/'
      || CAST(min(c.min_amount) AS varchar) || '/' || CAST(max(c.max_amount) AS varchar) AS figures
  FROM path_outputs po JOIN n_paths np ON np.shard_id = po.shard_id AND np.seg = po.seg AND np.n > 1
  JOIN cells c ON c.okey = po.okey
  GROUP BY po.shard_id, po.seg, po.path, c.window_start, c.currency
),
ambiguous AS (
  SELECT DISTINCT pc.shard_id, pc.seg
  FROM path_cells pc JOIN n_paths np ON np.shard_id = pc.shard_id AND np.seg = pc.seg
  GROUP BY pc.shard_id, pc.seg, pc.window_start, pc.currency, np.n
  HAVING count(DISTINCT pc.figures) > 1 OR count(*) < np.n
),
problems AS (
  SELECT g.shard_id, g.sn, 'gap' AS kind, g.s_node AS lo, g.e_node - 1 AS hi
  FROM stretches g LEFT JOIN n_paths np ON np.shard_id = g.shard_id AND np.seg = g.seg
  WHERE np.n IS NULL
  UNION ALL
  SELECT g.shard_id, g.sn, 'ambiguous' AS kind, g.s_node AS lo, g.e_node - 1 AS hi
  FROM stretches g JOIN ambiguous am ON am.shard_id = g.shard_id AND am.seg = g.seg
  UNION ALL
  SELECT shard_id, sn, 'conflicting_copies' AS kind, a AS lo, b - 1 AS hi FROM spans WHERE variants > 1
),
problem_outputs AS ${d.materialized}(
  SELECT DISTINCT pr.shard_id, pr.kind, pr.lo, pr.hi, pr.sn * ${KEY} + pr.lo AS lo_key, pr.sn * ${KEY} + pr.hi AS hi_key, s.okey
  FROM problems pr JOIN spans s ON s.shard_id = pr.shard_id AND s.a <= pr.hi AND s.b - 1 >= pr.lo
),
undecided_windows AS (
  SELECT DISTINCT c.window_start FROM problem_outputs po JOIN cells c ON c.okey = po.okey
),
chosen_outputs AS ${d.materialized}(
  SELECT DISTINCT po.okey FROM chosen ch
  JOIN path_outputs po ON po.shard_id = ch.shard_id AND po.seg = ch.seg AND po.path = ch.path
)`;
}

const windowFilter = (o: MergeQueryOptions, alias: string): string =>
  o.fromMs === undefined || o.toMs === undefined
    ? 'TRUE'
    : `${alias}.window_end > ${sqlString(new Date(o.fromMs).toISOString())} AND ${alias}.window_start < ${sqlString(new Date(o.toMs).toISOString())}`;

/**
 * Merged per-(window, currency) aggregates under the rule: window_start, window_end, currency,
 * transaction_count, total_amount, min_amount, max_amount (exact decimals), and `decided` (false
 * where a gap, an ambiguity or conflicting copies touch the window: the figures are a lower bound
 * or one of two answers). Sorted by window, then currency.
 */
export function mergedAggregatesSql(dialect: Dialect, o: MergeQueryOptions = {}): string {
  const d = DIALECTS[dialect];
  return `WITH RECURSIVE ${mergeCtes(d, o)},
merged AS ${d.materialized}(
  SELECT c.window_start, c.window_end, c.currency,
    sum(c.transaction_count) AS transaction_count, sum(c.total_amount) AS total_amount,
    min(c.min_amount) AS min_amount, max(c.max_amount) AS max_amount
  FROM cells c JOIN chosen_outputs co ON co.okey = c.okey
  GROUP BY c.window_start, c.window_end, c.currency
)
SELECT m.window_start, m.window_end, m.currency, m.transaction_count, m.total_amount, m.min_amount, m.max_amount,
  CASE WHEN u.window_start IS NULL THEN true ELSE false END AS decided
FROM merged m LEFT JOIN undecided_windows u ON u.window_start = m.window_start
WHERE ${windowFilter(o, 'm')}
ORDER BY m.window_start, m.currency`;
}

/**
 * Where the rule cannot decide: one row per problem — kind (gap, ambiguous, conflicting_copies),
 * shard_id, the sequence range (from_sequence..to_sequence, decimal text) and the windows of the
 * outputs it touches (window_start, one row each; NULL when those outputs hold no cell).
 */
export function undecidedWindowsSql(dialect: Dialect, o: MergeQueryOptions = {}): string {
  const d = DIALECTS[dialect];
  return `WITH RECURSIVE ${mergeCtes(d, o)},
named AS ${DIALECTS[dialect].materialized}(
  SELECT DISTINCT po.kind, po.shard_id, lo_n.k AS lo_k, hi_n.k AS hi_k, c.window_start, c.window_end
  FROM problem_outputs po
  JOIN nodes lo_n ON lo_n.nk = po.lo_key
  JOIN nodes hi_n ON hi_n.nk = po.hi_key
  LEFT JOIN cells c ON c.okey = po.okey
)
SELECT kind, shard_id,
  ${stripZeros('lo_k')} AS from_sequence, ${stripZeros('hi_k')} AS to_sequence, window_start
FROM named n
WHERE n.window_start IS NULL OR (${windowFilter(o, 'n')})
ORDER BY shard_id, lo_k, kind, window_start`;
}

/** A left-padded sequence key back to its decimal text (all zeros → '0'). */
const stripZeros = (c: string): string =>
  `CASE WHEN regexp_replace(${c}, '^0+', '') = '' THEN '0' ELSE regexp_replace(${c}, '^0+', '') END`;

/**
 * Windows ending after window_end > x: helper for callers that build SQL around the merge (e.g.
 * reconcile) and need the same CTE chain, without the final SELECT.
 */
export function mergeWith(dialect: Dialect, o: MergeQueryOptions = {}): string {
  return `WITH RECURSIVE ${mergeCtes(DIALECTS[dialect], o)}`;
}

/** Merged totals per currency over the range (the sum of the merged windows), and whether all were decided. */
export function totalsPerCurrencySql(dialect: Dialect, o: MergeQueryOptions = {}): string {
  return `WITH m AS (
${mergedAggregatesSql(dialect, o).replace(/\nORDER BY m\.window_start, m\.currency$/, '')}
)
SELECT currency, count(*) AS windows, sum(transaction_count) AS transaction_count, sum(total_amount) AS total_amount,
  min(min_amount) AS min_amount, max(max_amount) AS max_amount, bool_and(decided) AS decided
FROM m GROUP BY currency ORDER BY currency`;
}

export interface RawQueryOptions extends MergeQueryOptions {
  /** Window width, ms (config windowSeconds × 1000). */
  windowMs: number;
}

/**
 * The raw side, per line of the arrival hours read: its base64 (to meet its dead letter), parsed
 * fields and window (ms). Every line read is accounted for, whatever its timestamp (a record with a
 * timestamp far in the future is still a dead letter to find); only the cells are range-bound.
 */
function rawCtes(d: DialectSql, o: RawQueryOptions): string {
  const slack = o.slackMs ?? HOUR_MS;
  const pf = partitionPredicate(o.fromMs, o.toMs === undefined ? undefined : o.toMs + slack);
  return `raw_parsed AS (
  SELECT line, ${d.base64('line')} AS b64,
    ${d.jsonField('line', 'transaction_id')} AS transaction_id,
    ${d.jsonField('line', 'currency')} AS currency,
    TRY_CAST(${d.jsonField('line', 'amount')} AS decimal(38,9)) AS amount,
    TRY_CAST(${d.jsonField('line', 'event_timestamp')} AS bigint) AS ts
  FROM raw_lines WHERE ${pf} AND line <> ''
),
raw_in AS ${d.materialized}(
  SELECT line, b64, transaction_id, currency, amount, ts,
    CASE WHEN ts IS NULL THEN NULL ELSE ts - (((ts % ${o.windowMs}) + ${o.windowMs}) % ${o.windowMs}) END AS window_ms
  FROM raw_parsed
)`;
}

const windowMsInRange = (o: RawQueryOptions, col: string): string =>
  o.fromMs === undefined || o.toMs === undefined
    ? 'TRUE'
    : `${col} + ${o.windowMs} > ${o.fromMs} AND ${col} < ${o.toMs}`;

/**
 * Duplicate transaction_ids in the raw archive over the range: how many copies, whether they are
 * byte-identical (a retry of the same send) or differ (two payments under one id), and their
 * effect on the totals (the aggregator counts every copy: extra payments and amount).
 */
export function duplicatesSql(dialect: Dialect, o: RawQueryOptions): string {
  const d = DIALECTS[dialect];
  return `WITH ${rawCtes(d, o)}
SELECT transaction_id, count(*) AS copies, count(DISTINCT line) AS distinct_payloads,
  min(currency) AS currency, count(*) - 1 AS extra_payments,
  sum(amount) - max(amount) AS extra_amount_at_most
FROM raw_in
WHERE transaction_id IS NOT NULL AND transaction_id <> '' AND amount IS NOT NULL AND ${windowMsInRange(o, 'window_ms')}
GROUP BY transaction_id HAVING count(*) > 1
ORDER BY copies DESC, transaction_id`;
}

/**
 * The accounting identity over the range, one row per finding (none: it holds). Every raw line is
 * in exactly one place: a dead letter (byte-equal to its data_base64, or — for a dead letter whose
 * bytes hold line breaks, which the archive stores as several lines — byte-equal to one of its
 * non-empty lines), counted in an aggregate, or missing. Copies are matched as multisets, so a line
 * such as `}` that several multi-line dead letters share is accounted for as often as they hold it;
 * when such a line is short, every dead letter holding it is reported (each is given only what the
 * others leave), so a missing line is never hidden behind its twins. Per (window, currency), the raw totals of the counted records equal the merged aggregates.
 * kind:
 *  - `cell_mismatch`: raw count/total ≠ merged (window_start, currency, raw_count, raw_total,
 *    merged_count, merged_total) — records missing from the aggregates, or aggregates with no raw record;
 *  - `unaccounted`: a raw record that is neither a payment that parses nor a dead letter (detail: the line);
 *  - `dead_letter_without_raw`: a dead letter whose bytes are not in the raw archive (detail: base64);
 *  - `undecided`: the merge rule cannot decide here (detail: kind, shard and sequence range);
 *  - `dead_letter_reason`: dead letters read, per reason (currency: the reason, raw_count: how many).
 * Plus one `summary` row: raw lines (raw_count), dead-lettered (merged_count), and in detail
 * `counted/unaccounted/fragments` (fragments: dead-lettered lines that are lines of a multi-line
 * dead letter). A dead letter counts as having its raw record (dead_letter_reason) when every one of
 * its lines is in the archive as often as the dead letters hold it.
 */
export function reconcileSql(dialect: Dialect, o: RawQueryOptions): string {
  const d = DIALECTS[dialect];
  const slack = o.slackMs ?? HOUR_MS;
  const dlPf = partitionPredicate(o.fromMs, o.toMs === undefined ? undefined : o.toMs + slack);
  return `${mergeWith(dialect, o)},
${rawCtes(d, o)},
dl AS ${d.materialized}(
  SELECT data_base64, reason, count(*) AS n FROM (
    SELECT DISTINCT shard_id, sequence_number, data_base64, reason FROM dead_letters WHERE ${dlPf}
  ) x GROUP BY data_base64, reason
),
dl_text AS (SELECT data_base64, reason, n, ${d.textOfBase64('data_base64')} AS txt FROM dl),
dl_lines AS ${d.materialized}(
  SELECT data_base64, reason, n, lb64, multi, count(*) AS occ FROM (
    SELECT data_base64, reason, n, data_base64 AS lb64, 0 AS multi FROM dl_text
    WHERE data_base64 <> '' AND (txt IS NULL OR NOT ${holdsLineBreak('txt')})
    UNION ALL
    SELECT x.data_base64, x.reason, x.n, ${d.base64('t.l')} AS lb64, 1 AS multi
    FROM dl_text x CROSS JOIN UNNEST(${d.splitLines('x.txt')}) AS t(l)
    WHERE x.txt IS NOT NULL AND ${holdsLineBreak('x.txt')} AND t.l <> ''
  ) y GROUP BY data_base64, reason, n, lb64, multi
),
offered AS ${d.materialized}(
  SELECT lb64, sum(n * occ) AS n, sum(multi * n * occ) AS frag_n FROM dl_lines GROUP BY lb64
),
raw_by_bytes AS ${d.materialized}(
  SELECT b64, min(line) AS line, count(*) AS n, min(currency) AS currency, min(amount) AS amount,
    min(window_ms) AS window_ms, min(ts) AS ts
  FROM raw_in GROUP BY b64
),
placed AS ${d.materialized}(
  SELECT r.b64, r.line, r.n AS raw_n, coalesce(x.n, 0) AS dead_n, least(r.n, coalesce(x.frag_n, 0)) AS frag_n,
    r.currency, r.amount, r.window_ms,
    CASE WHEN r.currency IS NULL OR r.amount IS NULL OR r.window_ms IS NULL THEN 0 ELSE 1 END AS parses
  FROM raw_by_bytes r LEFT JOIN offered x ON x.lb64 = r.b64
),
dl_present AS (
  SELECT l.data_base64, l.reason, max(l.n) AS n,
    min(greatest(0, least(l.n, CAST(floor((coalesce(r.n, 0) - (x.n - l.n * l.occ)) / l.occ) AS bigint)))) AS present
  FROM dl_lines l JOIN offered x ON x.lb64 = l.lb64 LEFT JOIN raw_by_bytes r ON r.b64 = l.lb64
  GROUP BY l.data_base64, l.reason
),
dl_data_present AS (
  SELECT l.data_base64, max(l.n) AS n,
    min(greatest(0, least(l.n, CAST(floor((coalesce(r.n, 0) - (x.n - l.n * l.occ)) / l.occ) AS bigint)))) AS present
  FROM (
    SELECT data_base64, lb64, sum(n) AS n, max(occ) AS occ FROM dl_lines GROUP BY data_base64, lb64
  ) l JOIN offered x ON x.lb64 = l.lb64 LEFT JOIN raw_by_bytes r ON r.b64 = l.lb64
  GROUP BY l.data_base64
),
counted AS (
  SELECT window_ms, currency, sum(raw_n - least(raw_n, dead_n)) AS cnt,
    sum((raw_n - least(raw_n, dead_n)) * amount) AS tot
  FROM placed WHERE parses = 1 AND raw_n > dead_n AND ${windowMsInRange(o, 'window_ms')}
  GROUP BY window_ms, currency
),
merged AS ${d.materialized}(
  SELECT ${d.isoToMs('c.window_start')} AS window_ms, c.window_start, c.currency,
    sum(c.transaction_count) AS cnt, sum(c.total_amount) AS tot
  FROM cells c JOIN chosen_outputs co ON co.okey = c.okey
  ${o.fromMs === undefined || o.toMs === undefined ? '' : `WHERE ${windowFilter(o, 'c')}`}
  GROUP BY c.window_start, c.currency
),
cell_check AS (
  SELECT coalesce(m.window_ms, r.window_ms) AS window_ms, coalesce(m.currency, r.currency) AS currency,
    coalesce(r.cnt, 0) AS raw_count, coalesce(r.tot, 0) AS raw_total,
    coalesce(m.cnt, 0) AS merged_count, coalesce(m.tot, 0) AS merged_total
  FROM merged m FULL OUTER JOIN counted r ON r.window_ms = m.window_ms AND r.currency = m.currency
),
findings AS (
  SELECT 'cell_mismatch' AS kind, window_ms, currency, raw_count, raw_total, merged_count, merged_total,
    CAST(NULL AS varchar) AS detail
  FROM cell_check WHERE raw_count <> merged_count OR raw_total <> merged_total
  UNION ALL
  SELECT 'unaccounted', window_ms, currency, raw_n - dead_n, CAST(NULL AS decimal(38,9)), CAST(NULL AS bigint),
    CAST(NULL AS decimal(38,9)), line
  FROM placed WHERE parses = 0 AND raw_n > dead_n
  UNION ALL
  SELECT 'dead_letter_without_raw', CAST(NULL AS bigint), CAST(NULL AS varchar), CAST(NULL AS bigint),
    CAST(NULL AS decimal(38,9)), CAST(NULL AS bigint), CAST(NULL AS decimal(38,9)), data_base64
  FROM dl_data_present WHERE present < n
  UNION ALL
  SELECT DISTINCT 'undecided', CAST(NULL AS bigint), CAST(NULL AS varchar), CAST(NULL AS bigint),
    CAST(NULL AS decimal(38,9)), CAST(NULL AS bigint), CAST(NULL AS decimal(38,9)),
    po.kind || ' ' || po.shard_id || ' ' || ${stripZeros('lo_n.k')} || '..' || ${stripZeros('hi_n.k')}
  FROM problem_outputs po
  JOIN nodes lo_n ON lo_n.nk = po.lo_key
  JOIN nodes hi_n ON hi_n.nk = po.hi_key
  UNION ALL
  SELECT 'dead_letter_reason', CAST(NULL AS bigint), reason, sum(present),
    CAST(NULL AS decimal(38,9)), CAST(NULL AS bigint), CAST(NULL AS decimal(38,9)), CAST(NULL AS varchar)
  FROM dl_present GROUP BY reason HAVING sum(present) > 0
  UNION ALL
  SELECT 'summary', CAST(NULL AS bigint), CAST(NULL AS varchar),
    coalesce(sum(raw_n), 0), CAST(NULL AS decimal(38,9)),
    coalesce(sum(least(raw_n, dead_n)), 0), CAST(NULL AS decimal(38,9)),
    CAST(coalesce(sum(CASE WHEN parses = 1 THEN raw_n - least(raw_n, dead_n) ELSE 0 END), 0) AS varchar)
      || '/' || CAST(coalesce(sum(CASE WHEN parses = 0 THEN raw_n - least(raw_n, dead_n) ELSE 0 END), 0) AS varchar)
      || '/' || CAST(coalesce(sum(frag_n), 0) AS varchar)
  FROM placed
)
SELECT kind, window_ms, currency, raw_count, raw_total, merged_count, merged_total, detail
FROM findings ORDER BY kind, window_ms, currency, detail`;
}
