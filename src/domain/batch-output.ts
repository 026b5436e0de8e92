/**
 * The batch output (schema_version 2): what the aggregator writes for one invocation's batch of one
 * shard, so that every output can be checked as a whole (docs/windowing.md, "Batch outputs").
 *
 * One output = one Kinesis record (Kinesis writes a record atomically), newline-terminated JSON:
 *
 *   {"schema_version":2,"shard_id":"shardId-000000000000","first_sequence_number":"4965…",
 *    "last_sequence_number":"4965…","records":500,"digest":"…32 hex…","part":1,"parts":1,
 *    "aggregates":[{"window_start":…,"window_end":…,"currency":"USD","transaction_count":45,
 *                   "total_amount":5234.67,"avg_amount":116.33,"min_amount":3.1,"max_amount":499},…]}
 *
 * Only when the cells would not fit in one record (Kinesis caps a record, data plus partition key,
 * at 1 MiB) is the output split into parts "i of n", each a record of its own with the same
 * envelope. `digest` covers the whole output (range, record count, every cell in exact minor
 * units), so a reader can tell a complete output (all n parts, digest verified) from an attempt
 * that failed half-way (a part missing) or a damaged one (digest mismatch).
 *
 * Sequence numbers stay decimal strings in the record (they pass 2^53) and are compared as BigInt.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';
import { type BatchRef, type Cell, type CellParser, type ParsedCell, renderCell } from './aggregate.js';
import { oneLine } from './event.js';

export const SCHEMA_VERSION = 2;

/** Largest output record we write: Kinesis' 1 MiB per record, less room for the partition key. */
export const MAX_OUTPUT_RECORD_BYTES = 1024 * 1024 - 256;

/** Parts an output may be split into (a 10,000-record batch needs at most a handful). */
export const MAX_PARTS = 10_000;

/** Lambda hands a Kinesis-triggered function at most 10,000 records at once. */
export const MAX_BATCH_RECORDS = 10_000;

const SEQ = /^[0-9]{1,128}$/;
const HEX32 = /^[0-9a-f]{32}$/;

/** The envelope every part of one batch output carries. */
export interface BatchOutputHeader {
  shardId: string;
  first: bigint;
  last: bigint;
  /** `first` and `last` as written (decimal strings): the digest hashes these. */
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  /** Input records in the batch, valid or not. */
  records: number;
  digest: string;
  parts: number;
}

/** A checked part: its envelope, its number, and its cells in exact form. */
export interface ParsedPart {
  header: BatchOutputHeader;
  part: number;
  cells: ParsedCell[];
}

/** What a cell's line of digest text starts with. */
export const cellPrefix = (startMs: number, endMs: number, currency: string): string =>
  `\n${startMs},${endMs},${currency},`;

/** One-shot SHA-256 (Node 20.12+): no Hash object per output. Older Nodes stream into createHash. */
const hashOnce = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Digest text gathered before it is handed to the hash (bounds what a huge output holds). */
const DIGEST_FLUSH_CHARS = 64 * 1024;

/**
 * The digest of a whole batch output: SHA-256 over the range, the record count, the number of
 * parts and every cell in exact integer form (never the rendered doubles), first 128 bits in hex.
 * Cells are added one by one, in output order (the merge adds them straight from its columns).
 * The text is gathered and hashed in one call per output (or per 64 K characters): readers check
 * every output they read, and a hash object and update call per cell was a fifth of their time.
 */
export class OutputDigest {
  private text: string;
  private hash: Hash | undefined;

  constructor(ref: { shardId: string; first: string; last: string }, records: number, parts: number) {
    this.text = JSON.stringify([SCHEMA_VERSION, ref.shardId, ref.first, ref.last, records, parts]);
  }

  /**
   * The same digest from parts a reader already has: `shardJson` is JSON.stringify(shardId), and
   * first/last are checked decimal strings (JSON.stringify adds only the quotes). No array built.
   */
  static of(shardJson: string, first: string, last: string, records: number, parts: number): OutputDigest {
    const d = Object.create(OutputDigest.prototype) as OutputDigest;
    d.text = `[${SCHEMA_VERSION},${shardJson},"${first}","${last}",${records},${parts}]`;
    d.hash = undefined;
    return d;
  }

  /** add() with the cell's `\n${startMs},${endMs},${currency},` already rendered (see cellPrefix). */
  addWithPrefix(prefix: string, count: number, total: number, min: number, max: number): void {
    this.text += `${prefix}${count},${total},${min},${max}`;
    if (this.text.length > DIGEST_FLUSH_CHARS) {
      this.hash ??= createHash('sha256');
      this.hash.update(this.text);
      this.text = '';
    }
  }

  add(
    startMs: number,
    endMs: number,
    currency: string,
    count: number,
    total: number,
    min: number,
    max: number,
  ): void {
    this.addWithPrefix(cellPrefix(startMs, endMs, currency), count, total, min, max);
  }

  hex(): string {
    if (this.hash === undefined && hashOnce !== undefined)
      return hashOnce('sha256', this.text, 'hex').slice(0, 32);
    const h = this.hash ?? createHash('sha256');
    h.update(this.text);
    return h.digest('hex').slice(0, 32);
  }
}

const envelope = (ref: BatchRef, records: number, digest: string, part: number, parts: number): string =>
  `{"schema_version":${SCHEMA_VERSION},"shard_id":${JSON.stringify(ref.shardId)},"first_sequence_number":${JSON.stringify(ref.firstSequenceNumber)},"last_sequence_number":${JSON.stringify(ref.lastSequenceNumber)},"records":${records},"digest":"${digest}","part":${part},"parts":${parts},"aggregates":[`;

/**
 * The records (each one JSON line ending in `\n`) of one batch output: one record, or parts when
 * the cells do not fit in `maxBytes`. Deterministic: the same batch gives the same bytes, so a
 * retried batch's parts are interchangeable with the first attempt's. `cells` must be sorted as
 * BatchAggregator.cells() returns them. A batch with no valid record still gets an output (no
 * cells): it tells the merge this range was processed.
 */
export function renderBatchOutput(
  ref: BatchRef,
  records: number,
  cells: readonly Cell[],
  widthMs: number,
  maxBytes: number = MAX_OUTPUT_RECORD_BYTES,
): string[] {
  const texts = cells.map((c) => JSON.stringify(renderCell(c.windowStartMs, widthMs, c.currency, c.totals)));
  // Envelope size with the widest part numbers and digest we could write; cells are ASCII.
  const room = maxBytes - Buffer.byteLength(envelope(ref, records, '0'.repeat(32), MAX_PARTS, MAX_PARTS)) - 3;
  const groups: string[][] = [[]];
  let used = 0;
  for (const t of texts) {
    if (t.length > room)
      throw new RangeError(`one cell (${t.length} bytes) does not fit in ${maxBytes} bytes`);
    const cur = groups[groups.length - 1] as string[];
    const add = (cur.length === 0 ? 0 : 1) + t.length;
    if (cur.length > 0 && used + add > room) {
      groups.push([t]);
      used = t.length;
    } else {
      cur.push(t);
      used += add;
    }
  }
  if (groups.length > MAX_PARTS) throw new RangeError(`batch output needs ${groups.length} parts`);
  const d = new OutputDigest(
    { shardId: ref.shardId, first: ref.firstSequenceNumber, last: ref.lastSequenceNumber },
    records,
    groups.length,
  );
  for (const c of cells) {
    const t = c.totals;
    d.add(
      c.windowStartMs,
      c.windowStartMs + widthMs,
      c.currency,
      t.count,
      t.totalMinor,
      t.minMinor,
      t.maxMinor,
    );
  }
  const digest = d.hex();
  return groups.map((g, i) => `${envelope(ref, records, digest, i + 1, groups.length)}${g.join(',')}]}\n`);
}

/**
 * The aggregate cells a decoded aggregation record carries, unchecked: a batch output's
 * `aggregates`, or the record itself (an old-format aggregate, or anything else). For readers that
 * look for one cell (the doctor's canary), not for totals (those go through the merge).
 */
export function cellsIn(v: unknown): unknown[] {
  if (isBatchOutput(v)) {
    const a = (v as { aggregates?: unknown }).aggregates;
    return Array.isArray(a) ? a : [];
  }
  return [v];
}

/** a > b for decimal digit strings (leading zeros allowed), without parsing them: this runs per record. */
function decimalGreater(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la > lb;
  for (let k = 0; k < la; k++) {
    const d = a.charCodeAt(i + k) - b.charCodeAt(j + k);
    if (d !== 0) return d > 0;
  }
  return false;
}

/** True when a decoded record claims to be a batch output (any schema version). */
export function isBatchOutput(v: unknown): v is { schema_version: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'schema_version' in v;
}

export type PartResult =
  | { ok: true; part: ParsedPart }
  /** `header` when the envelope was readable: the range is known even though the part is unusable. */
  | { ok: false; detail: string; header?: BatchOutputHeader };

export type ScanResult =
  | { ok: true; header: BatchOutputHeader; part: number; cells: number }
  | { ok: false; detail: string; header?: BatchOutputHeader };

/** Checks one decoded batch output record (untrusted: it comes from S3); its cells as an array. */
export function parseBatchOutputPart(v: unknown, cells: CellParser): PartResult {
  const out: ParsedCell[] = [];
  const r = scanBatchOutputPart(v, cells, (c) => {
    out.push({ ...c, totals: { ...c.totals } });
  });
  return r.ok ? { ok: true, part: { header: r.header, part: r.part, cells: out } } : r;
}

/**
 * Checks one decoded batch output record, handing each checked cell to `sink` as it goes (one
 * scratch cell, reused: copy what you keep). On a failure the cells already handed over belong to
 * a part that is not usable: the caller drops them.
 */
export function scanBatchOutputPart(
  v: unknown,
  cells: CellParser,
  sink: (c: ParsedCell, header: BatchOutputHeader) => void,
): ScanResult {
  if (!isBatchOutput(v)) return { ok: false, detail: 'not a batch output' };
  const o = v as Record<string, unknown>;
  if (o.schema_version !== SCHEMA_VERSION) {
    return {
      ok: false,
      detail: `unsupported schema_version ${JSON.stringify(o.schema_version)?.slice(0, 20)}`,
    };
  }
  const { shard_id, first_sequence_number: f, last_sequence_number: l, records, digest, part, parts } = o;
  if (typeof shard_id !== 'string' || shard_id === '' || shard_id.length > 256) {
    return { ok: false, detail: 'batch output: shard_id is missing or not a short string' };
  }
  if (
    typeof f !== 'string' ||
    typeof l !== 'string' ||
    !SEQ.test(f) ||
    !SEQ.test(l) ||
    decimalGreater(f, l)
  ) {
    return {
      ok: false,
      detail: `batch output of ${oneLine(shard_id)}: first/last_sequence_number are not decimal strings with first <= last`,
    };
  }
  // Built only for a message: this runs once per record read.
  const what = (): string => `batch output ${oneLine(shard_id)} ${f}..${l}`;
  if (
    typeof records !== 'number' ||
    !Number.isInteger(records) ||
    records < 1 ||
    records > MAX_BATCH_RECORDS
  ) {
    return { ok: false, detail: `${what()}: records is not a whole number from 1 to ${MAX_BATCH_RECORDS}` };
  }
  if (typeof digest !== 'string' || !HEX32.test(digest)) {
    return { ok: false, detail: `${what()}: digest is not 32 lower-case hex digits` };
  }
  if (
    typeof parts !== 'number' ||
    !Number.isInteger(parts) ||
    parts < 1 ||
    parts > MAX_PARTS ||
    typeof part !== 'number' ||
    !Number.isInteger(part) ||
    part < 1 ||
    part > parts
  ) {
    return {
      ok: false,
      detail: `${what()}: part/parts are not whole numbers with 1 <= part <= parts <= ${MAX_PARTS}`,
    };
  }
  const header: BatchOutputHeader = {
    shardId: shard_id,
    first: BigInt(f),
    last: BigInt(l),
    firstSequenceNumber: f,
    lastSequenceNumber: l,
    records,
    digest,
    parts,
  };
  if (!Array.isArray(o.aggregates))
    return { ok: false, detail: `${what()}: aggregates is not an array`, header };
  let counted = 0;
  const scratch: ParsedCell = {
    window_start: '',
    window_end: '',
    windowStartMs: 0,
    windowEndMs: 0,
    currency: '',
    totals: { count: 0, totalMinor: 0, minMinor: 0, maxMinor: 0 },
  };
  for (let i = 0; i < o.aggregates.length; i++) {
    const c = cells.parse(o.aggregates[i], scratch);
    if (typeof c === 'string')
      return { ok: false, detail: `${what()} part ${part}, aggregate ${i + 1}: ${c}`, header };
    counted += c.totals.count;
    sink(c, header);
  }
  // A batch cannot count more payments than it has records.
  if (counted > records) {
    return {
      ok: false,
      detail: `${what()} part ${part}: its aggregates count ${counted} payments in ${records} records`,
      header,
    };
  }
  return { ok: true, header, part, cells: o.aggregates.length };
}
