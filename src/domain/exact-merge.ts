/**
 * The one merge rule: decoded aggregation records (batch outputs, and v1 aggregates from objects
 * written before batch outputs existed) in, exact per-(window, currency) totals out, with a word
 * for everything that keeps them from being complete. Used by `results`, `--verify`, the demo and
 * the local pipeline's reports; docs/windowing.md states the rule and proves it exact.
 *
 * The rule, per shard: every complete batch output is exact for its contiguous range of records,
 * and every record ends up in a batch that succeeded, so the answer is any CHAIN of complete
 * outputs that are pairwise disjoint and together reach every sequence endpoint seen (of any
 * output, complete or not). Such a chain exists when nothing expired, and any two give the same
 * totals. Redeliveries, Firehose duplicates and the bisected halves of a written batch are just
 * outputs the chain does not use; `[1,5]` written before a timeout and the retry `[1,10]` bisected
 * into `[1,3]` + `[4,10]` leaves exactly one chain, `[1,3]` + `[4,10]`.
 *
 * Finding it is a shortest path over the sorted endpoints (nodes between them, an output covering
 * endpoints a..b is an edge a → b+1). Where no chain exists the path may also step over an
 * endpoint at a cost ("skip"): the cheapest path never counts a record twice, covers all it can,
 * and its skipped endpoints are reported as gaps (shard and sequence range), marking the totals
 * incomplete. Two chains that disagree (possible only when the history broke the rule's premise,
 * e.g. records handed to the failure destination between attempts) are reported as ambiguous.
 *
 * Memory: every batch output is held until the end, because which outputs count is known only
 * when all are in (a redelivery with other boundaries may come in any later object). So an output
 * is a row of typed columns (~60 bytes: digest words, shard number, sizes, where its cells are),
 * its two sequence numbers packed as digits (~58 bytes, SeqStore) and its cells as varints (~11
 * bytes each, CellStore) — no object, string or BigInt per output (test/domain/exact-merge-memory).
 * v1 aggregates are merged as they come, each id once (12 bytes an id), as before.
 */
import { createHash } from 'node:crypto';
import {
  type Aggregate,
  CellParser,
  type ParsedCell,
  parseAggregateCell,
  renderAggregate,
  type Totals,
} from './aggregate.js';
import { cellPrefix, isBatchOutput, OutputDigest, scanBatchOutputPart } from './batch-output.js';
import { oneLine } from './event.js';
import { addMinor } from './money.js';
import { fnv1a, hash64, IdSet } from './id-set.js';
import { isoMs } from './window.js';

/** Windows that overlap [fromMs, toMs) are kept; the others are counted as out of range. */
export interface MergeRange {
  fromMs: number;
  toMs: number;
}

export type MergeIssue =
  /** No disjoint chain of complete outputs reaches these endpoints: records missing or counted by nothing. */
  | { kind: 'gap'; shard: string; from: string; to: string; affectsRange: boolean; message: string }
  /** Two disjoint chains give different totals here. */
  | { kind: 'ambiguous'; shard: string; from: string; to: string; affectsRange: boolean; message: string }
  /** All parts present but they do not add up to their digest, or two copies of a part differ. */
  | {
      kind: 'corrupt_output';
      shard: string;
      from: string;
      to: string;
      affectsRange: boolean;
      message: string;
    }
  /** A v1 aggregate id seen twice with different figures: kept the first, not summed. */
  | {
      kind: 'id_conflict';
      id: string;
      window_start: string;
      currency: string;
      affectsRange: boolean;
      message: string;
    }
  /** A cell's total would pass MAX_TOTAL_MINOR: that contribution was left out. */
  | { kind: 'overflow'; window_start: string; currency: string; affectsRange: boolean; message: string };

export interface MergedCell {
  windowStartMs: number;
  windowEndMs: number;
  currency: string;
  totals: Totals;
}

export interface MergeStats {
  /** Records handed to add(). */
  records: number;
  /** Records that are neither a batch output nor a v1 aggregate (or fail their checks). */
  invalid: number;
  /** Parts and v1 aggregates seen again with the same content (redeliveries). */
  duplicates: number;
  /** Cells of counted outputs and v1 aggregates whose window is outside the range. */
  outOfRange: number;
  /** Issues found (all of them; `issues` lists the first 50). */
  issues: number;
  batchOutputs: {
    /** Distinct outputs seen (by shard, range and digest). */
    seen: number;
    /** With every part present and the digest verified. */
    complete: number;
    /** A part missing: an attempt that failed half-way; never counted. */
    incomplete: number;
    /** Counted: the chain. */
    counted: number;
    /** Complete, but their records are counted through other outputs (redeliveries, bisected halves). */
    superseded: number;
    shards: number;
  };
  /** Objects of the old format (no range), merged by id. */
  legacy: { aggregates: number; duplicates: number };
}

export interface MergeResult {
  /** Exact, one per (window, currency) in range, sorted by window start then currency. */
  cells: MergedCell[];
  /** The same as rows: ids are the XOR of their sources' (a single v1 source keeps its id). */
  aggregates: Aggregate[];
  /** No issue that affects the range: the totals are the totals of every record in the outputs. */
  complete: boolean;
  issues: MergeIssue[];
  /** First few reasons records were invalid. */
  invalidSamples: string[];
  stats: MergeStats;
}

/** Issues listed one by one at most (the stats count them all). */
const MAX_ISSUES = 50;

// Signature lanes for comparing two chains' totals: sums mod two primes below 2^26, so every
// product of two reduced values stays exact in a double.
const P1 = 67_108_859;
const P2 = 67_108_837;

/** Bytes per chunk of the cell store (chunks never move: growing copies nothing). */
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;

/** A cell as read back from the store (one scratch object, reused). */
interface StoredCell {
  /** The merged-cell key: window id × 2^16 + currency id. */
  key: number;
  startMs: number;
  endMs: number;
  currency: string;
  count: number;
  total: number;
  min: number;
  max: number;
}

/**
 * Every cell read from batch outputs, as variable-length integers in a chunked byte store: the
 * window-pair id, the currency id, count, total, min, max — about 11 bytes a cell (a million cells,
 * ~200 MB of batch outputs, in ~11 MB), never copied when it grows. Cells are only ever read back
 * in order, part by part, so nothing needs random access.
 */
class CellStore {
  /** Bytes written so far (the offset the next cell starts at). */
  n = 0;
  private readonly chunks: Uint8Array[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Window ids by start, then end (numbers: no key string per cell). */
  private readonly windowIndex = new Map<number, Map<number, number>>();
  private readonly currencies: string[] = [];
  private readonly currencyIndex = new Map<string, number>();

  /** The last pair asked for (an output's cells come window by window). */
  private lastStart = Number.NaN;
  private lastEnd = Number.NaN;
  private lastW = 0;

  /** A small number for a (window start, end) pair. */
  windowId(startMs: number, endMs: number): number {
    if (startMs === this.lastStart && endMs === this.lastEnd) return this.lastW;
    const w = this.windowIdOf(startMs, endMs);
    this.lastStart = startMs;
    this.lastEnd = endMs;
    this.lastW = w;
    return w;
  }

  private windowIdOf(startMs: number, endMs: number): number {
    let byEnd = this.windowIndex.get(startMs);
    if (byEnd === undefined) {
      byEnd = new Map();
      this.windowIndex.set(startMs, byEnd);
    }
    let w = byEnd.get(endMs);
    if (w === undefined) {
      w = this.starts.length;
      this.starts.push(startMs);
      this.ends.push(endMs);
      byEnd.set(endMs, w);
    }
    return w;
  }

  currencyId(currency: string): number {
    let ci = this.currencyIndex.get(currency);
    if (ci === undefined) {
      ci = this.currencies.length;
      this.currencies.push(own(currency));
      this.currencyIndex.set(currency, ci);
    }
    return ci;
  }

  /** Drops everything from byte `n` on (cells of a part that is not kept). */
  truncate(n: number): void {
    this.n = n;
  }

  /** Stores the cell; returns its merged-cell key (window id × 2^16 + currency id). */
  push(c: ParsedCell): number {
    const t = c.totals;
    const w = this.windowId(c.windowStartMs, c.windowEndMs);
    const ci = this.currencyId(c.currency);
    this.varint(w);
    this.varint(ci);
    this.varint(t.count);
    this.varint(t.totalMinor);
    this.varint(t.minMinor);
    this.varint(t.maxMinor);
    return w * 65_536 + ci;
  }

  /** Reads `cells` cells from byte `off` into `into`, calling `visit` for each. */
  read(off: number, cells: number, into: StoredCell, visit: (c: StoredCell) => void): void {
    let at = off;
    const next = (): number => {
      let v = 0;
      let scale = 1;
      for (;;) {
        const b = (this.chunks[at >>> CHUNK_BITS] as Uint8Array)[at & (CHUNK - 1)] as number;
        at++;
        v += (b & 127) * scale;
        if (b < 128) return v;
        scale *= 128;
      }
    };
    for (let k = 0; k < cells; k++) {
      const w = next();
      const ci = next();
      into.key = w * 65_536 + ci;
      into.startMs = this.starts[w] as number;
      into.endMs = this.ends[w] as number;
      into.currency = this.currencies[ci] as string;
      into.count = next();
      into.total = next();
      into.min = next();
      into.max = next();
      visit(into);
    }
  }

  /** Little-endian base-128 (safe integers ≥ 0: arithmetic, not 32-bit shifts). */
  private varint(value: number): void {
    let v = value;
    for (;;) {
      const k = this.n >>> CHUNK_BITS;
      if (k === this.chunks.length) this.chunks.push(new Uint8Array(CHUNK));
      const chunk = this.chunks[k] as Uint8Array;
      if (v < 128) {
        chunk[this.n++ & (CHUNK - 1)] = v;
        return;
      }
      chunk[this.n++ & (CHUNK - 1)] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
  }
}

/** Bytes per chunk of the sequence-number store. */
const SEQ_CHUNK = 1 << 18;

/**
 * Every output's first and last sequence number, packed: the digit count (leading zeros dropped, as
 * BigInt prints it), then the digits two to a byte, most significant first — 29 bytes for a
 * Kinesis sequence number (56 digits) where a BigInt and its reference took ~56. Compared without
 * parsing: more digits is larger, else the bytes decide. An entry never straddles a chunk, and
 * chunks never move (growing copies nothing).
 */
class SeqStore {
  /** Where the next entry goes (global offset). */
  n = 0;
  /** A hash of the digits of the last entry added (for the output table). */
  lastHash = 0;
  private readonly chunks: Uint8Array[] = [];

  /** Stores a checked decimal string; returns its offset. */
  add(s: string): number {
    let i = 0;
    while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
    const d = s.length - i;
    const size = 1 + ((d + 1) >> 1);
    let k = Math.floor(this.n / SEQ_CHUNK);
    let at = this.n - k * SEQ_CHUNK;
    if (at + size > SEQ_CHUNK) {
      k++;
      at = 0;
    }
    while (k >= this.chunks.length) this.chunks.push(new Uint8Array(SEQ_CHUNK));
    const c = this.chunks[k] as Uint8Array;
    const off = k * SEQ_CHUNK + at;
    let h = Math.imul(0x811c9dc5 ^ d, 0x01000193);
    c[at++] = d;
    if ((d & 1) === 1) {
      const x = s.charCodeAt(i++) - 48;
      c[at++] = x;
      h = Math.imul(h ^ x, 0x01000193);
    }
    for (; i < s.length; i += 2) {
      const x = ((s.charCodeAt(i) - 48) << 4) | (s.charCodeAt(i + 1) - 48);
      c[at++] = x;
      h = Math.imul(h ^ x, 0x01000193);
    }
    this.n = off + size;
    this.lastHash = h >>> 0;
    return off;
  }

  /** Drops every entry from offset `n` on. */
  truncate(n: number): void {
    this.n = n;
  }

  /** Sign of a − b as integers. */
  compare(a: number, b: number): number {
    if (a === b) return 0;
    const ka = Math.floor(a / SEQ_CHUNK);
    const kb = Math.floor(b / SEQ_CHUNK);
    const ca = this.chunks[ka] as Uint8Array;
    const cb = this.chunks[kb] as Uint8Array;
    const pa = a - ka * SEQ_CHUNK;
    const pb = b - kb * SEQ_CHUNK;
    const da = ca[pa] as number;
    const db = cb[pb] as number;
    if (da !== db) return da - db;
    const size = (da + 1) >> 1;
    for (let j = 1; j <= size; j++) {
      const x = (ca[pa + j] as number) - (cb[pb + j] as number);
      if (x !== 0) return x;
    }
    return 0;
  }

  /** The number as BigInt's toString() prints it. */
  toString(off: number): string {
    const k = Math.floor(off / SEQ_CHUNK);
    const c = this.chunks[k] as Uint8Array;
    let p = off - k * SEQ_CHUNK;
    const d = c[p++] as number;
    let s = '';
    if ((d & 1) === 1) s += String.fromCharCode(48 + (c[p++] as number));
    for (let j = 0; j < d >> 1; j++) {
      const x = c[p++] as number;
      s += String.fromCharCode(48 + (x >> 4), 48 + (x & 15));
    }
    return s;
  }
}

/** A part that came: its number, where its cells are in the cell store, a fingerprint of them. */
interface PartRef {
  n: number;
  off: number;
  len: number;
  fp: number;
}

// What result() decides for each output.
const STATE_COMPLETE = 1;
const STATE_INCOMPLETE = 2;
const STATE_CORRUPT = 3;
// Flags.
const CONFLICTING = 1;
/** A one-part output whose digest was checked on arrival: matched, or not. */
const VERIFIED = 2;
const MISMATCHED = 4;

/**
 * Every distinct batch output (all copies of all its parts), one row each in typed columns: held
 * until result() because which outputs count is known only when all are in (a redelivery with
 * other boundaries may come in any later object). ~60 bytes a row plus its two sequence numbers
 * (SeqStore) and its cells (CellStore), where one object, two BigInts, a digest string, a part
 * list and a Map entry per output took ~465. Rows are found by digest and envelope through an
 * open-addressing table of row numbers (no key string per output).
 */
class OutputTable {
  n = 0;
  private cap = 0;
  /** The digest as four big-endian words (row × 4). */
  digest = new Uint32Array(0);
  shard = new Int32Array(0);
  /** SeqStore offsets. */
  first = new Float64Array(0);
  last = new Float64Array(0);
  records = new Uint16Array(0);
  parts = new Uint16Array(0);
  received = new Uint16Array(0);
  flags = new Uint8Array(0);
  state = new Uint8Array(0);
  /** A one-part output's part: cells at `off`, `len` of them, fingerprint `fp`. */
  off = new Float64Array(0);
  len = new Uint32Array(0);
  fp = new Uint32Array(0);
  /** The parts of outputs of more than one part (rare: only past 1 MiB of cells). Only what came. */
  readonly multi = new Map<number, PartRef[]>();
  /** Row + 1 per slot (0: empty); at most half full. */
  private slots = new Int32Array(1024);

  /** The row with this digest and envelope, or -1. */
  find(
    hash: number,
    dg: Uint32Array,
    shard: number,
    first: number,
    last: number,
    parts: number,
    records: number,
    seqs: SeqStore,
  ): number {
    const mask = this.slots.length - 1;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const r = (this.slots[s] as number) - 1;
      if (r === -1) return -1;
      const d = r * 4;
      if (
        this.digest[d] === dg[0] &&
        this.digest[d + 1] === dg[1] &&
        this.digest[d + 2] === dg[2] &&
        this.digest[d + 3] === dg[3] &&
        this.shard[r] === shard &&
        this.parts[r] === parts &&
        this.records[r] === records &&
        seqs.compare(this.first[r] as number, first) === 0 &&
        seqs.compare(this.last[r] as number, last) === 0
      )
        return r;
    }
  }

  /** A new row (find() said there is none); returns its number. */
  insert(
    hash: number,
    dg: Uint32Array,
    shard: number,
    first: number,
    last: number,
    parts: number,
    records: number,
  ): number {
    if (this.n === this.cap) this.grow();
    if ((this.n + 1) * 2 > this.slots.length) this.rehash();
    const r = this.n++;
    this.digest.set(dg, r * 4);
    this.shard[r] = shard;
    this.first[r] = first;
    this.last[r] = last;
    this.parts[r] = parts;
    this.records[r] = records;
    this.received[r] = 1;
    const mask = this.slots.length - 1;
    let s = hash & mask;
    while (this.slots[s] !== 0) s = (s + 1) & mask;
    this.slots[s] = r + 1;
    this.hashes[r] = hash;
    return r;
  }

  /** Each row's slot hash (to rehash without the strings). */
  private hashes = new Uint32Array(0);

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let r = 0; r < this.n; r++) {
      let s = (this.hashes[r] as number) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = r + 1;
    }
    this.slots = slots;
  }

  private grow(): void {
    const cap = Math.max(1024, Math.ceil(this.cap * 1.5));
    const more = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      a: T,
      per = 1,
    ): T => {
      const b = new (a.constructor as new (n: number) => T)(cap * per);
      b.set(a);
      return b;
    };
    this.digest = more(this.digest, 4);
    this.shard = more(this.shard);
    this.first = more(this.first);
    this.last = more(this.last);
    this.records = more(this.records);
    this.parts = more(this.parts);
    this.received = more(this.received);
    this.flags = more(this.flags);
    this.state = more(this.state);
    this.off = more(this.off);
    this.len = more(this.len);
    this.fp = more(this.fp);
    this.hashes = more(this.hashes);
    this.cap = cap;
  }

  /** The digest as written (32 lower-case hex digits). */
  hex(r: number): string {
    let s = '';
    for (let i = 0; i < 4; i++) s += (this.digest[r * 4 + i] as number).toString(16).padStart(8, '0');
    return s;
  }

  /** The parts that came, in part order. */
  partsOf(r: number): readonly PartRef[] | undefined {
    const got = this.multi.get(r);
    if (got === undefined || got.length === 1) return got;
    return [...got].sort((a, b) => a.n - b.n);
  }
}

/** A range known only from a part whose cells were unusable (the records exist all the same). */
interface BrokenRange {
  shard: number;
  /** SeqStore offsets. */
  first: number;
  last: number;
}

/**
 * A shard's complete outputs as edges (row `o[j]`, node `a[j]` → node `b[j]`), sorted by start
 * node, then end, then digest; node u's edges are `at[u]` to `at[u + 1]` (no object per edge).
 */
interface Graph {
  a: Int32Array;
  b: Int32Array;
  o: Int32Array;
  at: Int32Array;
}

interface MergedAcc {
  startMs: number;
  endMs: number;
  currency: string;
  totals: Totals;
  xor: Uint32Array;
}

/** Streaming: add() every decoded record in any order, then result() once. */
export class ExactMerger {
  private readonly cellParser = new CellParser();
  private readonly columns = new CellStore();
  /** Reused for every old-format aggregate checked. */
  private readonly scratchParsed: ParsedCell = {
    window_start: '',
    window_end: '',
    windowStartMs: 0,
    windowEndMs: 0,
    currency: '',
    totals: { count: 0, totalMinor: 0, minMinor: 0, maxMinor: 0 },
  };
  /** Reused for every cell read back from the store. */
  private readonly scratchCell: StoredCell = {
    key: 0,
    startMs: 0,
    endMs: 0,
    currency: '',
    count: 0,
    total: 0,
    min: 0,
    max: 0,
  };
  private readonly outputs = new OutputTable();
  private readonly seqs = new SeqStore();
  /** Shard ids by number (tens of thousands of outputs name a handful of shards), and their JSON. */
  private readonly shardNames: string[] = [];
  private readonly shardJsons: string[] = [];
  private readonly shardIndex = new Map<string, number>();
  /** Reused for each contribution's id words. */
  private readonly scratchId = new Uint32Array(4);
  /** Reused: a record's digest, and the one computed from its cells. */
  private readonly scratchDigest = new Uint32Array(4);
  private readonly scratchComputed = new Uint32Array(4);
  private readonly broken: BrokenRange[] = [];
  private readonly legacyIds = new IdSet(1024);
  private readonly merged = new Map<number, MergedAcc>();
  private readonly issues: MergeIssue[] = [];
  private readonly invalidSamples: string[] = [];
  private readonly stats: MergeStats = {
    records: 0,
    invalid: 0,
    duplicates: 0,
    outOfRange: 0,
    issues: 0,
    batchOutputs: { seen: 0, complete: 0, incomplete: 0, counted: 0, superseded: 0, shards: 0 },
    legacy: { aggregates: 0, duplicates: 0 },
  };
  private incomplete = false;

  constructor(private readonly range?: MergeRange) {}

  /** Adds one decoded record; false when it is neither a batch output part nor a v1 aggregate. */
  add(rec: unknown): boolean {
    this.stats.records++;
    if (isBatchOutput(rec)) return this.addPart(rec);
    // An old-format aggregate: checked, not re-rendered (an hour may hold a million of them).
    const p = parseAggregateCell(rec, this.cellParser, this.scratchParsed);
    if (!p.ok) return this.invalid(p.detail);
    this.addLegacy(p.id, p.cell);
    return true;
  }

  private invalid(detail: string): false {
    this.stats.invalid++;
    if (this.invalidSamples.length < 5) this.invalidSamples.push(detail);
    return false;
  }

  private note(issue: MergeIssue): void {
    this.stats.issues++;
    if (issue.affectsRange) this.incomplete = true;
    if (this.issues.length < MAX_ISSUES) this.issues.push(issue);
  }

  private inRange(startMs: number, endMs: number): boolean {
    return this.range === undefined || (endMs > this.range.fromMs && startMs < this.range.toMs);
  }

  private addPart(rec: unknown): boolean {
    // Cells go straight into the columns as they are checked; a part that fails, or a copy of a
    // part already held, is rolled back (truncate) — no array of cell objects per record.
    const start = this.columns.n;
    let fp = 0x811c9dc5;
    let digest: OutputDigest | undefined;
    const r = scanBatchOutputPart(rec, this.cellParser, (c, h) => {
      // A one-part output's fingerprint is the digest of its cells, computed below anyway.
      if (h.parts !== 1) fp = cellFingerprint(fp, c);
      const cellKey = this.columns.push(c);
      // A one-part output can be checked against its digest right here, while its cells are at hand.
      if (h.parts === 1) {
        digest ??= OutputDigest.of(
          this.shardJsons[this.shardOf(h.shardId)] as string,
          h.firstSequenceNumber,
          h.lastSequenceNumber,
          h.records,
          1,
        );
        const t = c.totals;
        digest.addWithPrefix(this.digestPrefix(cellKey, c), t.count, t.totalMinor, t.minMinor, t.maxMinor);
      }
    });
    if (!r.ok) {
      this.columns.truncate(start);
      if (r.header !== undefined) {
        this.broken.push({
          shard: this.shardOf(r.header.shardId),
          first: this.seqs.add(r.header.firstSequenceNumber),
          last: this.seqs.add(r.header.lastSequenceNumber),
        });
      }
      return this.invalid(r.detail);
    }
    const { header: h, part } = r;
    const shard = this.shardOf(h.shardId);
    // The digest covers shard, range, size and cells: it identifies the output. A record that
    // claims a known digest with another envelope is a different (forged or damaged) output.
    const dg = this.scratchDigest;
    hexWords(h.digest, dg);
    const mark = this.seqs.n;
    const first = this.seqs.add(h.firstSequenceNumber);
    let hash = mix(dg[0] as number, this.seqs.lastHash);
    const last = this.seqs.add(h.lastSequenceNumber);
    hash = mix(mix(mix(mix(hash, this.seqs.lastHash), shard), h.parts), h.records);
    const outs = this.outputs;
    const o = outs.find(hash, dg, shard, first, last, h.parts, h.records, this.seqs);
    let flags = 0;
    if (h.parts === 1) {
      const computed = (
        digest ??
        OutputDigest.of(
          this.shardJsons[shard] as string,
          h.firstSequenceNumber,
          h.lastSequenceNumber,
          h.records,
          1,
        )
      ).words(this.scratchComputed);
      flags = sameWords(computed, dg) ? VERIFIED : MISMATCHED;
      // Two copies are the same exactly when their cells hash the same (what the digest is for).
      fp = computed[0] as number;
    } else fp = mix(fp, r.cells);
    if (o === -1) {
      const row = outs.insert(hash, dg, shard, first, last, h.parts, h.records);
      outs.flags[row] = flags;
      if (h.parts === 1) {
        outs.off[row] = start;
        outs.len[row] = r.cells;
        outs.fp[row] = fp;
      } else outs.multi.set(row, [{ n: part, off: start, len: r.cells, fp }]);
      return true;
    }
    // A known output: its range is held already.
    this.seqs.truncate(mark);
    const got = h.parts === 1 ? undefined : (outs.multi.get(o) as PartRef[]);
    const have = got === undefined ? (outs.fp[o] as number) : got.find((x) => x.n === part)?.fp;
    if (have !== undefined) {
      this.columns.truncate(start);
      if (have === fp) this.stats.duplicates++;
      else outs.flags[o] = (outs.flags[o] as number) | CONFLICTING;
      return true;
    }
    (got as PartRef[]).push({ n: part, off: start, len: r.cells, fp });
    outs.received[o] = (outs.received[o] as number) + 1;
    return true;
  }

  /** Recent merged cells' line prefixes in digest text (one per window × currency, not per cell). */
  private readonly digestPrefixes = new Map<number, Uint8Array>();

  /** The shard id's number (its name and JSON kept once). */
  private shardOf(shardId: string): number {
    let k = this.shardIndex.get(shardId);
    if (k === undefined) {
      k = this.shardNames.length;
      const name = own(shardId);
      this.shardNames.push(name);
      this.shardJsons.push(JSON.stringify(name));
      this.shardIndex.set(name, k);
    }
    return k;
  }

  private digestPrefix(cellKey: number, c: ParsedCell): Uint8Array {
    let p = this.digestPrefixes.get(cellKey);
    if (p === undefined) {
      p = cellPrefix(c.windowStartMs, c.windowEndMs, c.currency);
      // Bounded (a week is 50,000 window × currency pairs): outputs come roughly in time order.
      if (this.digestPrefixes.size >= 4096) this.digestPrefixes.clear();
      this.digestPrefixes.set(cellKey, p);
    }
    return p;
  }

  private addLegacy(id: string, c: ParsedCell): void {
    const startMs = c.windowStartMs;
    const endMs = c.windowEndMs;
    const t = c.totals;
    const affects = this.inRange(startMs, endMs);
    const [hi, lo] = hash64(id);
    const seen = this.legacyIds.add(hi, lo, cellFingerprint(0x811c9dc5, c));
    if (seen === 'duplicate') {
      this.stats.duplicates++;
      this.stats.legacy.duplicates++;
      return;
    }
    if (seen === 'conflict') {
      this.note({
        kind: 'id_conflict',
        id: own(id),
        window_start: isoMs(startMs),
        currency: own(c.currency),
        affectsRange: affects,
        message: `aggregate id ${oneLine(id)} seen twice with different figures (${isoMs(startMs)} ${oneLine(c.currency)}); the first was kept`,
      });
      return;
    }
    this.stats.legacy.aggregates++;
    if (!affects) {
      this.stats.outOfRange++;
      return;
    }
    idWords(id, this.scratchId);
    const key = this.columns.windowId(startMs, endMs) * 65_536 + this.columns.currencyId(c.currency);
    this.addMerged(
      key,
      startMs,
      endMs,
      c.currency,
      t.count,
      t.totalMinor,
      t.minMinor,
      t.maxMinor,
      this.scratchId,
    );
  }

  /** Adds a contribution to its cell (no allocation unless the cell is new: this runs per cell). */
  private addMerged(
    key: number,
    startMs: number,
    endMs: number,
    currency: string,
    count: number,
    total: number,
    min: number,
    max: number,
    id: Uint32Array,
  ): void {
    const m = this.merged.get(key);
    if (m === undefined) {
      this.merged.set(key, {
        startMs,
        endMs,
        currency,
        totals: { count, totalMinor: total, minMinor: min, maxMinor: max },
        xor: id.slice(),
      });
      return;
    }
    const sum = addMinor(m.totals.totalMinor, total);
    if (sum === undefined) {
      this.note({
        kind: 'overflow',
        window_start: isoMs(startMs),
        currency,
        affectsRange: true,
        message: `the ${currency} total of window ${isoMs(startMs)} would pass 999999999999999 minor units; a contribution was left out`,
      });
      return;
    }
    const t = m.totals;
    t.count += count;
    t.totalMinor = sum;
    if (min < t.minMinor) t.minMinor = min;
    if (max > t.maxMinor) t.maxMinor = max;
    for (let i = 0; i < 4; i++) m.xor[i] = ((m.xor[i] as number) ^ (id[i] as number)) >>> 0;
  }

  result(): MergeResult {
    const outs = this.outputs;
    const bo = this.stats.batchOutputs;
    // Rows by shard (in arrival order within a shard): a count, then one array of row numbers.
    const shards = this.shardNames.length;
    const perShard = new Int32Array(shards + 1);
    const hasBroken = new Uint8Array(shards);
    for (let r = 0; r < outs.n; r++) {
      const sh = outs.shard[r] as number;
      perShard[sh + 1] = (perShard[sh + 1] as number) + 1;
      const state =
        (outs.received[r] as number) < (outs.parts[r] as number)
          ? STATE_INCOMPLETE
          : ((outs.flags[r] as number) & CONFLICTING) !== 0
            ? STATE_CORRUPT
            : STATE_COMPLETE;
      const flags = outs.flags[r] as number;
      const ok =
        state !== STATE_COMPLETE ||
        ((flags & VERIFIED) !== 0
          ? true
          : (flags & MISMATCHED) !== 0
            ? false
            : sameWords(
                this.outputDigestOf(r, this.scratchComputed),
                outs.digest.subarray(r * 4, r * 4 + 4),
              ));
      outs.state[r] = ok ? state : STATE_CORRUPT;
      if (outs.state[r] === STATE_COMPLETE) bo.complete++;
      if (outs.state[r] === STATE_INCOMPLETE) bo.incomplete++;
    }
    bo.seen = outs.n;
    for (let k = 0; k < shards; k++) perShard[k + 1] = (perShard[k + 1] as number) + (perShard[k] as number);
    const rows = new Int32Array(outs.n);
    const fill = perShard.slice(0, shards);
    for (let r = 0; r < outs.n; r++) {
      const sh = outs.shard[r] as number;
      rows[fill[sh] as number] = r;
      fill[sh] = (fill[sh] as number) + 1;
    }
    for (const b of this.broken) hasBroken[b.shard] = 1;
    const present: number[] = [];
    for (let k = 0; k < shards; k++)
      if (perShard[k + 1] !== perShard[k] || hasBroken[k] === 1) present.push(k);
    bo.shards = present.length;
    const names = this.shardNames;
    present.sort((x, y) => {
      const a = names[x] as string;
      const b = names[y] as string;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    for (const k of present) {
      this.mergeShard(
        k,
        rows.subarray(perShard[k] as number, perShard[k + 1] as number),
        this.broken.filter((b) => b.shard === k),
      );
    }
    const cells = [...this.merged.values()].sort(
      (a, b) =>
        a.startMs - b.startMs ||
        a.endMs - b.endMs ||
        (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0),
    );
    return {
      cells: cells.map((c) => ({
        windowStartMs: c.startMs,
        windowEndMs: c.endMs,
        currency: c.currency,
        totals: { ...c.totals },
      })),
      aggregates: cells.map((c) =>
        renderAggregate(
          [...c.xor].map((x) => x.toString(16).padStart(8, '0')).join(''),
          c.startMs,
          c.endMs - c.startMs,
          c.currency,
          c.totals,
        ),
      ),
      complete: !this.incomplete,
      issues: [...this.issues],
      invalidSamples: [...this.invalidSamples],
      stats: structuredClone(this.stats),
    };
  }

  /** Calls `visit` with each of an output's cells (one scratch cell), in part order (the parts there). */
  private forEachCell(r: number, visit: (c: StoredCell) => void): void {
    const outs = this.outputs;
    const parts = outs.partsOf(r);
    if (parts === undefined) {
      this.columns.read(outs.off[r] as number, outs.len[r] as number, this.scratchCell, visit);
      return;
    }
    for (const q of parts) this.columns.read(q.off, q.len, this.scratchCell, visit);
  }

  /** The digest recomputed from the assembled cells (parts in order), into `w`. */
  private outputDigestOf(r: number, w: Uint32Array): Uint32Array {
    const outs = this.outputs;
    const d = new OutputDigest(
      {
        shardId: this.shardNames[outs.shard[r] as number] as string,
        first: this.seqs.toString(outs.first[r] as number),
        last: this.seqs.toString(outs.last[r] as number),
      },
      outs.records[r] as number,
      outs.parts[r] as number,
    );
    this.forEachCell(r, (c) => d.add(c.startMs, c.endMs, c.currency, c.count, c.total, c.min, c.max));
    return d.words(w);
  }

  /**
   * Does any cell of this output fall in the range? For an incomplete output this is judged by the
   * parts that came (a heuristic: one batch's records arrived together, so its windows lie together).
   */
  private touchesRange(r: number): boolean {
    let touches = false;
    this.forEachCell(r, (c) => {
      if (!touches && this.inRange(c.startMs, c.endMs)) touches = true;
    });
    return touches;
  }

  private mergeShard(shardNo: number, outputs: Int32Array, broken: BrokenRange[]): void {
    const shard = this.shardNames[shardNo] as string;
    const name = oneLine(shard);
    const table = this.outputs;
    const seqs = this.seqs;
    // Endpoints of every output of the shard, complete or not: each is a record that exists.
    // Ranked by sorting them once (outputs mostly arrive in order: the sort sees long runs).
    const nv = 2 * (outputs.length + broken.length);
    const vals = new Float64Array(nv);
    for (let k = 0; k < outputs.length; k++) {
      const r = outputs[k] as number;
      vals[2 * k] = table.first[r] as number;
      vals[2 * k + 1] = table.last[r] as number;
    }
    for (let j = 0; j < broken.length; j++) {
      const b = broken[j] as BrokenRange;
      vals[2 * (outputs.length + j)] = b.first;
      vals[2 * (outputs.length + j) + 1] = b.last;
    }
    const order = Array.from({ length: nv }, (_, k) => k).sort((x, y) =>
      seqs.compare(vals[x] as number, vals[y] as number),
    );
    const rank = new Int32Array(nv);
    const points: number[] = [];
    for (const k of order) {
      const v = vals[k] as number;
      if (points.length === 0 || seqs.compare(points[points.length - 1] as number, v) !== 0) points.push(v);
      rank[k] = points.length - 1;
    }
    // Node of the k-th output's first endpoint (rank[2k]) and last (rank[2k + 1]); broken after them.
    const firstAt = (k: number): number => rank[2 * k] as number;
    const lastAt = (k: number): number => rank[2 * k + 1] as number;
    const m = points.length;
    // Edges: complete outputs, node a → node b + 1 for endpoints a..b, in a canonical order.
    let ne = 0;
    for (let k = 0; k < outputs.length; k++) if (table.state[outputs[k] as number] === STATE_COMPLETE) ne++;
    const ua = new Int32Array(ne);
    const ub = new Int32Array(ne);
    const uo = new Int32Array(ne);
    for (let k = 0, j = 0; k < outputs.length; k++) {
      const r = outputs[k] as number;
      if (table.state[r] !== STATE_COMPLETE) continue;
      uo[j] = r;
      ua[j] = firstAt(k);
      ub[j] = lastAt(k) + 1;
      j++;
    }
    const dw = table.digest;
    // Ties by digest as text would order them (fixed-width hex: word by word, unsigned).
    const digestLess = (x: number, y: number): boolean => {
      for (let i = 0; i < 4; i++) {
        const a = dw[x * 4 + i] as number;
        const b = dw[y * 4 + i] as number;
        if (a !== b) return a < b;
      }
      return false;
    };
    const order2 = Array.from({ length: ne }, (_, j) => j).sort(
      (x, y) =>
        (ua[x] as number) - (ua[y] as number) ||
        (ub[x] as number) - (ub[y] as number) ||
        (digestLess(uo[x] as number, uo[y] as number) ? -1 : 1),
    );
    // The edges in that order, and where each node's edges start (they are sorted by start node).
    const g: Graph = {
      a: new Int32Array(ne),
      b: new Int32Array(ne),
      o: new Int32Array(ne),
      at: new Int32Array(m + 2),
    };
    for (let j = 0; j < ne; j++) {
      const x = order2[j] as number;
      g.a[j] = ua[x] as number;
      g.b[j] = ub[x] as number;
      g.o[j] = uo[x] as number;
      g.at[(ua[x] as number) + 1] = (g.at[(ua[x] as number) + 1] as number) + 1;
    }
    for (let u = 0; u <= m; u++) g.at[u + 1] = (g.at[u + 1] as number) + (g.at[u] as number);
    // Cheapest path 0 → m: fewest skipped endpoints, then fewest outputs.
    const skips = new Float64Array(m + 1).fill(Number.POSITIVE_INFINITY);
    const outs = new Float64Array(m + 1);
    /** The edge that reached each node on the cheapest path, -1 for a skip. */
    const via = new Int32Array(m + 1).fill(-1);
    skips[0] = 0;
    const relax = (v: number, s: number, n: number, e: number): void => {
      const cs = skips[v] as number;
      if (s < cs || (s === cs && n < (outs[v] as number))) {
        skips[v] = s;
        outs[v] = n;
        via[v] = e;
      }
    };
    for (let u = 0; u < m; u++) {
      const s = skips[u] as number;
      const n = outs[u] as number;
      relax(u + 1, s + 1, n, -1);
      for (let j = g.at[u] as number; j < (g.at[u + 1] as number); j++) relax(g.b[j] as number, s, n + 1, j);
    }
    // Walk back: chosen outputs (each once: the path only moves forward) and skipped endpoints.
    const chosen: number[] = [];
    const skipped = new Uint8Array(m);
    for (let v = m; v > 0; ) {
      const e = via[v] as number;
      if (e === -1) {
        skipped[v - 1] = 1;
        v -= 1;
      } else {
        chosen.push(g.o[e] as number);
        v = g.a[e] as number;
      }
    }
    // Sum the chain.
    const digest = new Uint32Array(4);
    for (const o of chosen) {
      digest.set(dw.subarray(o * 4, o * 4 + 4));
      this.forEachCell(o, (c) => {
        if (!this.inRange(c.startMs, c.endMs)) {
          this.stats.outOfRange++;
          return;
        }
        cellId(digest, c.startMs, c.currency, this.scratchId);
        this.addMerged(c.key, c.startMs, c.endMs, c.currency, c.count, c.total, c.min, c.max, this.scratchId);
      });
    }
    this.stats.batchOutputs.counted += chosen.length;
    this.stats.batchOutputs.superseded += ne - chosen.length;

    const corrupt = outputs.some((r) => table.state[r] === STATE_CORRUPT);
    // A healthy shard: every complete output is in the one chain, nothing to report.
    if (!corrupt && !skipped.includes(1) && ne === chosen.length) return;

    // What each endpoint is covered by, for "does this issue touch the range".
    const touching = new Int32Array(m + 1);
    const cover = (a: number, b: number): void => {
      touching[a] = (touching[a] as number) + 1;
      touching[b] = (touching[b] as number) - 1;
    };
    for (let k = 0; k < outputs.length; k++)
      if (this.touchesRange(outputs[k] as number)) cover(firstAt(k), lastAt(k) + 1);
    for (let j = 0; j < broken.length; j++) {
      const k = outputs.length + j;
      cover(firstAt(k), lastAt(k) + 1);
    }
    // hits[i]: endpoints before i that something touching the range covers.
    const hits = new Int32Array(m + 1);
    for (let i = 0; i < m; i++) {
      if (i > 0) touching[i] = (touching[i] as number) + (touching[i - 1] as number);
      hits[i + 1] = (hits[i] as number) + ((touching[i] as number) > 0 ? 1 : 0);
    }
    const touches = (a: number, b: number): boolean => (hits[b + 1] as number) > (hits[a] as number);
    const seq = (i: number): string => seqs.toString(points[i] as number);

    for (let k = 0; k < outputs.length; k++) {
      const o = outputs[k] as number;
      if (table.state[o] !== STATE_CORRUPT) continue;
      const a = firstAt(k);
      const b = lastAt(k);
      this.note({
        kind: 'corrupt_output',
        shard,
        from: seq(a),
        to: seq(b),
        affectsRange: this.touchesRange(o),
        message: `${name} ${seq(a)}..${seq(b)}: batch output ${table.hex(o)} ${((table.flags[o] as number) & CONFLICTING) !== 0 ? 'has two different copies of a part' : 'does not match its digest'}; not counted`,
      });
    }
    // Gaps: runs of skipped endpoints.
    for (let i = 0; i < m; i++) {
      if (skipped[i] !== 1) continue;
      let j = i;
      while (j + 1 < m && skipped[j + 1] === 1) j++;
      this.note({
        kind: 'gap',
        shard,
        from: seq(i),
        to: seq(j),
        affectsRange: touches(i, j),
        message: `${name} ${seq(i)}..${seq(j)}: no disjoint chain of complete batch outputs covers these records (an output missing, or records expired); they are not counted`,
      });
      i = j;
    }
    // Ambiguity: within each stretch of the chosen path without skips, do all chains agree?
    let s = 0;
    for (let v = 1; v <= m; v++) {
      if (skipped[v - 1] === 1) {
        s = v;
        continue;
      }
      if (v === m || skipped[v] === 1) {
        this.checkAgreement(shard, name, s, v, g, points, touches);
        s = v;
      }
    }
  }

  /**
   * Every path of complete outputs from node s to node t (no skips) must give the same in-range
   * totals; compared through two modular signatures of the per-cell counts and totals.
   */
  private checkAgreement(
    shard: string,
    name: string,
    s: number,
    t: number,
    g: Graph,
    points: number[],
    touches: (a: number, b: number) => boolean,
  ): void {
    if (t - s < 1) return;
    const n = t - s + 1;
    const sig1 = new Float64Array(n).fill(-1);
    const sig2 = new Float64Array(n);
    /** Start node of the edge that set each node's signature (where a disagreement may begin). */
    const setBy = new Int32Array(n);
    const reach = new Uint8Array(n);
    sig1[0] = 0;
    // Backward reachability of t first: a disagreement counts only on a path that completes.
    reach[n - 1] = 1;
    for (let u = t - 1; u >= s; u--) {
      for (let j = g.at[u] as number; j < (g.at[u + 1] as number); j++) {
        const b = g.b[j] as number;
        if (b <= t && reach[b - s] === 1) reach[u - s] = 1;
      }
    }
    let lo = -1;
    let hi = -1;
    for (let u = s; u < t; u++) {
      if (sig1[u - s] === -1) continue;
      for (let j = g.at[u] as number; j < (g.at[u + 1] as number); j++) {
        const eb = g.b[j] as number;
        if (eb > t) continue;
        const [x1, x2] = this.signature(g.o[j] as number);
        const c1 = ((sig1[u - s] as number) + x1) % P1;
        const c2 = ((sig2[u - s] as number) + x2) % P2;
        const v = eb - s;
        if (sig1[v] === -1) {
          sig1[v] = c1;
          sig2[v] = c2;
          setBy[v] = u;
        } else if ((sig1[v] !== c1 || sig2[v] !== c2) && reach[v] === 1) {
          const start = Math.min(u, setBy[v] as number);
          lo = lo === -1 ? start : Math.min(lo, start);
          hi = Math.max(hi, eb - 1);
        }
      }
    }
    if (lo === -1) return;
    const f = this.seqs.toString(points[lo] as number);
    const l = this.seqs.toString(points[hi] as number);
    this.note({
      kind: 'ambiguous',
      shard,
      from: f,
      to: l,
      affectsRange: touches(lo, hi),
      message: `${name} ${f}..${l}: batch outputs disagree (two disjoint chains give different totals; records handed to the failure destination?); one was counted`,
    });
  }

  /** The output's in-range cells as two sums mod P1, P2 of count·k1(cell) + total·k2(cell). */
  private signature(o: number): [number, number] {
    let a = 0;
    let b = 0;
    this.forEachCell(o, (c) => {
      if (!this.inRange(c.startMs, c.endMs)) return;
      const k = fnv1a(c.currency, mix(mix(0x811c9dc5, c.startMs), c.endMs));
      const count = c.count;
      const total = c.total;
      a = (a + (count % P1) * (k % P1) + (total % P1) * ((k >>> 7) % P1)) % P1;
      b = (b + (count % P2) * ((k >>> 3) % P2) + (total % P2) * ((k >>> 11) % P2)) % P2;
    });
    return [a, b];
  }
}

/** Merges a whole set of decoded records (for bounded sets: the demo, tests). */
export function mergeRecords(records: Iterable<unknown>, range?: MergeRange): MergeResult {
  const m = new ExactMerger(range);
  for (const r of records) m.add(r);
  return m.result();
}

/**
 * A copy of a string that holds on to nothing else. Strings taken from a decoded record may be
 * slices of the decoder's text: keeping one would keep the whole chunk it came from (for every
 * output held, that is the whole object). A flat copy (a concatenation-and-slice trick would be
 * cheaper to make but keeps a slice header and its parent: more bytes for each output held).
 */
const own = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** Two 128-bit digests as words. */
const sameWords = (a: Uint32Array, b: Uint32Array): boolean =>
  a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];

/** Mixes both 32-bit halves of a safe integer into a 32-bit hash. */
function mix(h: number, n: number): number {
  let x = Math.imul(h ^ (n >>> 0), 0x01000193);
  x = Math.imul(x ^ Math.floor(n / 4294967296), 0x01000193);
  return x >>> 0;
}

function cellFingerprint(h: number, c: ParsedCell): number {
  const t = c.totals;
  // Unrolled: this runs for every cell read.
  const x = mix(mix(mix(fnv1a(c.currency, h), c.windowStartMs), c.windowEndMs), t.count);
  return mix(mix(mix(x, t.totalMinor), t.minMinor), t.maxMinor);
}

/** A 128-bit id as four words, into `w` (ids that are not our hex: their MD5, so XOR stays streaming). */
function idWords(id: string, w: Uint32Array): Uint32Array {
  if (hexWords(id, w)) return w;
  hexWords(createHash('md5').update(id).digest('hex'), w);
  return w;
}

/** 32 lower-case hex digits into four words (false, `w` undefined, for anything else). Per output read. */
function hexWords(s: string, w: Uint32Array): boolean {
  if (s.length !== 32) return false;
  for (let i = 0; i < 4; i++) {
    let x = 0;
    for (let j = i * 8; j < i * 8 + 8; j++) {
      const c = s.charCodeAt(j);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (d === -1) return false;
      x = x * 16 + d;
    }
    w[i] = x;
  }
  return true;
}

/** A batch output's contribution to one cell's id, into `w`: its digest mixed with the cell. */
function cellId(digest: Uint32Array, startMs: number, currency: string, w: Uint32Array): void {
  const k = fnv1a(currency, mix(0x9e3779b1, startMs));
  for (let i = 0; i < 4; i++) w[i] = ((digest[i] as number) ^ Math.imul(k, 2 * i + 1)) >>> 0;
}
