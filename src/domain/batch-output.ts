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

/** A decimal string of 1 to 128 digits (a loop: this runs twice per record read). */
function isSeq(s: string): boolean {
  if (s.length < 1 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** 32 lower-case hex digits. */
function isHex32(s: string): boolean {
  if (s.length !== 32) return false;
  for (let i = 0; i < 32; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * The envelope every part of one batch output carries, as the scan checks it: sequence numbers as
 * written (checked decimal strings; no BigInt made per record: a reader that keeps them packs the
 * digits, see exact-merge.ts).
 */
export interface ScannedHeader {
  shardId: string;
  /** `first_sequence_number` and `last_sequence_number` as written: the one-part digest hashes these. */
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  /** Input records in the batch, valid or not. */
  records: number;
  digest: string;
  parts: number;
}

/** The envelope with the range as integers. */
export interface BatchOutputHeader extends ScannedHeader {
  first: bigint;
  last: bigint;
}

/** A checked part: its envelope, its number, and its cells in exact form. */
export interface ParsedPart {
  header: BatchOutputHeader;
  part: number;
  cells: ParsedCell[];
}

/** What a cell's line of digest text starts with, as UTF-8. */
export const cellPrefix = (startMs: number, endMs: number, currency: string): Uint8Array =>
  Buffer.from(`\n${startMs},${endMs},${currency},`, 'utf8');

/** One-shot SHA-256 (Node 20.12+): no Hash object per output. Older Nodes stream into createHash. */
const hashOnce = (
  nodeCrypto as {
    hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer;
  }
).hash;

/** Digest bytes gathered before they are handed to a Hash (bounds what a huge output holds). */
const DIGEST_BUFFER_BYTES = 64 * 1024;
/** Room one number, a separator or an ASCII string up to this length needs: flush before it is short. */
const DIGEST_SLACK = 128;

/** Powers of ten up to 10^15 (a safe integer has at most 16 digits). */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * The digest text's bytes for every OutputDigest, one shared scratch buffer: readers check every
 * output they read, and building the text as a JS string (a number-to-string and a concatenation
 * per field, then a flatten and a UTF-8 encode in the hash) was most of the digest's cost. The
 * digest being written owns the buffer; one that is interrupted by another spills what it had into
 * its own Hash first (see claim), so interleaved digests stay correct.
 */
const scratch = Buffer.allocUnsafeSlow(DIGEST_BUFFER_BYTES);
let owner: OutputDigest | undefined;

/**
 * The digest of a whole batch output: SHA-256 over the range, the record count, the number of
 * parts and every cell in exact integer form (never the rendered doubles), first 128 bits in hex.
 * The text is `[2,<shard id JSON>,"<first>","<last>",<records>,<parts>]` then, per cell in output
 * order, `\n<startMs>,<endMs>,<currency>,<count>,<total>,<min>,<max>` (numbers as JavaScript prints
 * them), UTF-8. It is written as bytes into one buffer and hashed in one call per output.
 */
export class OutputDigest {
  /** Bytes of this digest's text in `scratch` (while it owns it). */
  private pos = 0;
  /** Set once the text passed the buffer, or another digest took the buffer. */
  private hash: Hash | undefined;

  constructor(ref: { shardId: string; first: string; last: string }, records: number, parts: number) {
    this.start(JSON.stringify(ref.shardId), ref.first, ref.last, records, parts, true);
  }

  /**
   * The same digest from parts a reader already has: `shardJson` is JSON.stringify(shardId), and
   * first/last are checked decimal strings (JSON.stringify adds only the quotes). No array built.
   */
  static of(shardJson: string, first: string, last: string, records: number, parts: number): OutputDigest {
    const d = Object.create(OutputDigest.prototype) as OutputDigest;
    d.pos = 0;
    d.hash = undefined;
    d.start(shardJson, first, last, records, parts, false);
    return d;
  }

  /**
   * The header, `[2,<shard>,<first>,<last>,<records>,<parts>]`: as JSON.stringify renders the array
   * (`json`: the strings escaped, a non-finite number as null) or, for of(), as its template did.
   */
  private start(
    shardJson: string,
    first: string,
    last: string,
    records: number,
    parts: number,
    json: boolean,
  ): void {
    this.claim();
    scratch[this.pos++] = 0x5b; // [
    this.num(SCHEMA_VERSION);
    scratch[this.pos++] = 0x2c;
    this.str(shardJson);
    scratch[this.pos++] = 0x2c;
    this.quoted(first, json);
    scratch[this.pos++] = 0x2c;
    this.quoted(last, json);
    scratch[this.pos++] = 0x2c;
    this.room(DIGEST_SLACK);
    this.headerNum(records, json);
    scratch[this.pos++] = 0x2c;
    this.headerNum(parts, json);
    scratch[this.pos++] = 0x5d; // ]
  }

  private quoted(s: string, json: boolean): void {
    if (json) {
      this.str(JSON.stringify(s));
      return;
    }
    this.room(DIGEST_SLACK);
    scratch[this.pos++] = 0x22;
    this.str(s);
    scratch[this.pos++] = 0x22;
  }

  private headerNum(n: number, json: boolean): void {
    if (json && !Number.isFinite(n)) this.str('null');
    else this.num(n);
  }

  /** Takes the shared buffer, spilling the text of the digest that had it into that one's Hash. */
  private claim(): void {
    if (owner === this) return;
    if (owner !== undefined) owner.spill();
    owner = this;
    this.pos = 0;
  }

  private spill(): void {
    this.hash ??= createHash('sha256');
    if (this.pos > 0) this.hash.update(scratch.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Makes room for `bytes` more. */
  private room(bytes: number): void {
    this.claim();
    if (this.pos + bytes > DIGEST_BUFFER_BYTES) this.spill();
  }

  /** A string: ASCII byte by byte, anything else through the UTF-8 encoder (or straight to the hash). */
  private str(s: string): void {
    if (s.length > DIGEST_BUFFER_BYTES / 4) {
      this.claim();
      this.spill();
      (this.hash as Hash).update(s, 'utf8');
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit; 8 more for the separators written after it.
    this.room(s.length * 3 + 8);
    const p0 = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        this.pos = p0 + scratch.write(s, p0, 'utf8');
        return;
      }
      scratch[p0 + i] = c;
    }
    this.pos = p0 + s.length;
  }

  /** A number as `${n}` prints it; safe integers digit by digit. */
  private num(value: number): void {
    if (!Number.isSafeInteger(value)) {
      this.str(String(value));
      return;
    }
    let n = value;
    if (n < 0) {
      scratch[this.pos++] = 0x2d;
      n = -n;
    }
    let len = 1;
    while (len < 16 && n >= (POW10[len] as number)) len++;
    let p = this.pos + len;
    this.pos = p;
    if (n <= 0x7fffffff) {
      while (n >= 10) {
        const q = (n / 10) | 0;
        scratch[--p] = 48 + (n - q * 10);
        n = q;
      }
    } else {
      while (n >= 10) {
        const q = Math.floor(n / 10);
        scratch[--p] = 48 + (n - q * 10);
        n = q;
      }
    }
    scratch[--p] = 48 + n;
  }

  /**
   * add() with the cell's `\n${startMs},${endMs},${currency},` already rendered as UTF-8 (see
   * cellPrefix: a reader keeps one per window × currency and copies it in).
   */
  addWithPrefix(prefix: Uint8Array, count: number, total: number, min: number, max: number): void {
    if (prefix.length > DIGEST_BUFFER_BYTES / 4) {
      this.claim();
      this.spill();
      (this.hash as Hash).update(prefix);
    } else {
      this.room(prefix.length + DIGEST_SLACK);
      scratch.set(prefix, this.pos);
      this.pos += prefix.length;
    }
    this.tail(count, total, min, max);
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
    this.room(DIGEST_SLACK);
    scratch[this.pos++] = 0x0a;
    this.num(startMs);
    scratch[this.pos++] = 0x2c;
    this.num(endMs);
    scratch[this.pos++] = 0x2c;
    this.str(currency);
    scratch[this.pos++] = 0x2c;
    this.tail(count, total, min, max);
  }

  /** `${count},${total},${min},${max}` (the slack covers four numbers and their commas). */
  private tail(count: number, total: number, min: number, max: number): void {
    this.room(DIGEST_SLACK);
    this.num(count);
    scratch[this.pos++] = 0x2c;
    this.num(total);
    scratch[this.pos++] = 0x2c;
    this.num(min);
    scratch[this.pos++] = 0x2c;
    this.num(max);
  }

  /** The digest's 32 bytes (the text is final: one call per digest). */
  private bytes(): Buffer {
    if (owner === this && this.hash === undefined && hashOnce !== undefined) {
      owner = undefined;
      return hashOnce('sha256', scratch.subarray(0, this.pos), 'buffer');
    }
    if (owner === this) {
      this.spill();
      owner = undefined;
    }
    return (this.hash ?? createHash('sha256')).digest();
  }

  hex(): string {
    return this.bytes().toString('hex', 0, 16);
  }

  /** The first 128 bits as four big-endian words, into `w` (no hex string). */
  words(w: Uint32Array): Uint32Array {
    const b = this.bytes();
    w[0] = b.readUInt32BE(0);
    w[1] = b.readUInt32BE(4);
    w[2] = b.readUInt32BE(8);
    w[3] = b.readUInt32BE(12);
    return w;
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
  | { ok: true; header: ScannedHeader; part: number; cells: number }
  | { ok: false; detail: string; header?: ScannedHeader };

const withRange = (h: ScannedHeader): BatchOutputHeader => ({
  ...h,
  first: BigInt(h.firstSequenceNumber),
  last: BigInt(h.lastSequenceNumber),
});

/** Checks one decoded batch output record (untrusted: it comes from S3); its cells as an array. */
export function parseBatchOutputPart(v: unknown, cells: CellParser): PartResult {
  const out: ParsedCell[] = [];
  const r = scanBatchOutputPart(v, cells, (c) => {
    out.push({ ...c, totals: { ...c.totals } });
  });
  if (r.ok) return { ok: true, part: { header: withRange(r.header), part: r.part, cells: out } };
  return r.header === undefined
    ? { ok: false, detail: r.detail }
    : { ok: false, detail: r.detail, header: withRange(r.header) };
}

/**
 * Checks one decoded batch output record, handing each checked cell to `sink` as it goes (one
 * scratch cell, reused: copy what you keep). On a failure the cells already handed over belong to
 * a part that is not usable: the caller drops them.
 */
export function scanBatchOutputPart(
  v: unknown,
  cells: CellParser,
  sink: (c: ParsedCell, header: ScannedHeader) => void,
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
  if (typeof f !== 'string' || typeof l !== 'string' || !isSeq(f) || !isSeq(l) || decimalGreater(f, l)) {
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
  if (typeof digest !== 'string' || !isHex32(digest)) {
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
  const header: ScannedHeader = {
    shardId: shard_id,
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
