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
 * Memory: cells are kept in typed columns (about 50 bytes each) until the end, because which
 * outputs count is known only when all are in; v1 aggregates are merged as they come, each id once
 * (12 bytes an id), as before.
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
import {
  type BatchOutputHeader,
  cellPrefix,
  isBatchOutput,
  OutputDigest,
  scanBatchOutputPart,
} from './batch-output.js';
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

/**
 * One batch output (all copies of all its parts): its envelope (flat: tens of thousands of these
 * are held), and the parts that came.
 */
interface Output extends Omit<BatchOutputHeader, 'firstSequenceNumber' | 'lastSequenceNumber'> {
  /**
   * The parts that came, in arrival order: number, where its cells are in the columns, and a
   * fingerprint of them. Only what came: `parts` comes from the data and must not decide memory.
   */
  got: Array<{ n: number; off: number; len: number; fp: number }>;
  /** A one-part output's digest, checked as its cells came in (multi-part ones: in result()). */
  verified: boolean | undefined;
  received: number;
  /** Two copies of one part differed. */
  conflicting: boolean;
  /** Set by result(). */
  state: 'complete' | 'incomplete' | 'corrupt' | undefined;
}

/** A range known only from a part whose cells were unusable (the records exist all the same). */
interface BrokenRange {
  shardId: string;
  first: bigint;
  last: bigint;
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
  private readonly outputs = new Map<string, Output>();
  private readonly shardIds = new Map<string, string>();
  /** Reused for each contribution's id words. */
  private readonly scratchId = new Uint32Array(4);
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
          this.shardJson(h.shardId),
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
        this.broken.push({ shardId: r.header.shardId, first: r.header.first, last: r.header.last });
      }
      return this.invalid(r.detail);
    }
    const { header: h, part } = r;
    // The digest covers shard, range, size and cells: it identifies the output. A record that
    // claims a known digest with another envelope is a different (forged or damaged) output.
    let key = h.digest;
    let o = this.outputs.get(key);
    if (o !== undefined && !sameHeader(o, h)) {
      key = `${h.digest}|${h.shardId}|${h.first}|${h.last}|${h.parts}|${h.records}`;
      o = this.outputs.get(key);
    }
    let verified: boolean | undefined;
    if (h.parts === 1) {
      const computed = (
        digest ??
        OutputDigest.of(this.shardJson(h.shardId), h.firstSequenceNumber, h.lastSequenceNumber, h.records, 1)
      ).hex();
      verified = computed === h.digest;
      // Two copies are the same exactly when their cells hash the same (what the digest is for).
      fp = Number.parseInt(computed.slice(0, 8), 16);
    } else fp = mix(fp, r.cells);
    const ref = { n: part, off: start, len: r.cells, fp };
    if (o === undefined) {
      // One literal with every field, in one order: all outputs share one hidden class (spreading
      // and adding fields later gave each its own, ~400 bytes apiece); `got` made with its element.
      const d = own(h.digest);
      this.outputs.set(key === h.digest ? d : own(key), {
        shardId: this.interned(h.shardId),
        first: h.first,
        last: h.last,
        records: h.records,
        digest: d,
        parts: h.parts,
        got: [ref],
        received: 1,
        conflicting: false,
        verified,
        state: undefined,
      });
      return true;
    }
    const have = o.got.find((x) => x.n === part);
    if (have !== undefined) {
      this.columns.truncate(start);
      if (have.fp === fp) this.stats.duplicates++;
      else o.conflicting = true;
      return true;
    }
    o.got.push(ref);
    o.received++;
    return true;
  }

  /** JSON of each shard id, for digests (a handful of shards; hostile ids are bounded like shardIds). */
  private readonly shardJsons = new Map<string, string>();
  /** Each merged cell's line prefix in digest text (one per window × currency, not per cell). */
  private readonly digestPrefixes = new Map<number, string>();

  private shardJson(shardId: string): string {
    let j = this.shardJsons.get(shardId);
    if (j === undefined) {
      j = JSON.stringify(shardId);
      if (this.shardJsons.size > 10_000) this.shardJsons.clear();
      this.shardJsons.set(own(shardId), j);
    }
    return j;
  }

  private digestPrefix(cellKey: number, c: ParsedCell): string {
    let p = this.digestPrefixes.get(cellKey);
    if (p === undefined) {
      p = cellPrefix(c.windowStartMs, c.windowEndMs, c.currency);
      this.digestPrefixes.set(cellKey, p);
    }
    return p;
  }

  /** The shard id shared (tens of thousands of outputs name a handful of shards). */
  private interned(shardId: string): string {
    let id = this.shardIds.get(shardId);
    if (id === undefined) {
      id = own(shardId);
      this.shardIds.set(id, id);
    }
    return id;
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
    const byShard = new Map<string, Output[]>();
    for (const o of this.outputs.values()) {
      const list = byShard.get(o.shardId);
      if (list === undefined) byShard.set(o.shardId, [o]);
      else list.push(o);
      o.state = o.received < o.parts ? 'incomplete' : o.conflicting ? 'corrupt' : 'complete';
      if (
        o.state === 'complete' &&
        !(o.verified ?? outputDigestOf(o, (x, v) => this.forEachCell(x, v)) === o.digest)
      )
        o.state = 'corrupt';
      if (o.state === 'complete') this.stats.batchOutputs.complete++;
      if (o.state === 'incomplete') this.stats.batchOutputs.incomplete++;
    }
    this.stats.batchOutputs.seen = this.outputs.size;
    for (const b of this.broken) if (!byShard.has(b.shardId)) byShard.set(b.shardId, []);
    this.stats.batchOutputs.shards = byShard.size;
    for (const shard of [...byShard.keys()].sort()) {
      this.mergeShard(
        shard,
        byShard.get(shard) as Output[],
        this.broken.filter((b) => b.shardId === shard),
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
  private forEachCell(o: Output, visit: (c: StoredCell) => void): void {
    const parts = o.got.length === 1 ? o.got : [...o.got].sort((a, b) => a.n - b.n);
    for (const q of parts) this.columns.read(q.off, q.len, this.scratchCell, visit);
  }

  /**
   * Does any cell of this output fall in the range? For an incomplete output this is judged by the
   * parts that came (a heuristic: one batch's records arrived together, so its windows lie together).
   */
  private touchesRange(o: Output): boolean {
    let touches = false;
    this.forEachCell(o, (c) => {
      if (!touches && this.inRange(c.startMs, c.endMs)) touches = true;
    });
    return touches;
  }

  private mergeShard(shard: string, outputs: Output[], broken: BrokenRange[]): void {
    const name = oneLine(shard);
    // Endpoints of every output of the shard, complete or not: each is a record that exists.
    // Ranked by sorting them once (a Set and a Map keyed by BigInt cost more than the whole sort).
    const vals: bigint[] = [];
    for (const o of outputs) vals.push(o.first, o.last);
    for (const b of broken) vals.push(b.first, b.last);
    const order = Array.from(vals.keys()).sort((x, y) => {
      const a = vals[x] as bigint;
      const b = vals[y] as bigint;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    const rank = new Int32Array(vals.length);
    const points: bigint[] = [];
    for (const k of order) {
      const v = vals[k] as bigint;
      if (points.length === 0 || (points[points.length - 1] as bigint) !== v) points.push(v);
      rank[k] = points.length - 1;
    }
    // Node of the k-th output's first endpoint (rank[2k]) and last (rank[2k + 1]); broken after them.
    const firstAt = (k: number): number => rank[2 * k] as number;
    const lastAt = (k: number): number => rank[2 * k + 1] as number;
    const m = points.length;
    // Edges: complete outputs, node a → node b + 1 for endpoints a..b, in a canonical order.
    const edges: Array<{ o: Output; a: number; b: number }> = [];
    for (const [k, o] of outputs.entries()) {
      if (o.state === 'complete') edges.push({ o, a: firstAt(k), b: lastAt(k) + 1 });
    }
    edges.sort((x, y) => x.a - y.a || x.b - y.b || (x.o.digest < y.o.digest ? -1 : 1));
    const from = new Map<number, typeof edges>();
    for (const e of edges) {
      const l = from.get(e.a);
      if (l === undefined) from.set(e.a, [e]);
      else l.push(e);
    }
    // Cheapest path 0 → m: fewest skipped endpoints, then fewest outputs.
    const skips = new Float64Array(m + 1).fill(Number.POSITIVE_INFINITY);
    const outs = new Float64Array(m + 1);
    const via: Array<(typeof edges)[number] | null> = new Array(m + 1).fill(null);
    skips[0] = 0;
    const relax = (v: number, s: number, n: number, e: (typeof edges)[number] | null): void => {
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
      relax(u + 1, s + 1, n, null);
      for (const e of from.get(u) ?? []) relax(e.b, s, n + 1, e);
    }
    // Walk back: chosen outputs (each once: the path only moves forward) and skipped endpoints.
    const chosen: Output[] = [];
    const skipped = new Uint8Array(m);
    for (let v = m; v > 0; ) {
      const e = via[v];
      if (e === null || e === undefined) {
        skipped[v - 1] = 1;
        v -= 1;
      } else {
        chosen.push(e.o);
        v = e.a;
      }
    }
    // Sum the chain.
    const digest = new Uint32Array(4);
    for (const o of chosen) {
      idWords(o.digest, digest);
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
    this.stats.batchOutputs.superseded += edges.length - chosen.length;

    const corrupt = outputs.some((o) => o.state === 'corrupt');
    // A healthy shard: every complete output is in the one chain, nothing to report.
    if (!corrupt && !skipped.includes(1) && edges.length === chosen.length) return;

    // What each endpoint is covered by, for "does this issue touch the range".
    const touching = new Int32Array(m + 1);
    const cover = (a: number, b: number): void => {
      touching[a] = (touching[a] as number) + 1;
      touching[b] = (touching[b] as number) - 1;
    };
    for (const [k, o] of outputs.entries()) if (this.touchesRange(o)) cover(firstAt(k), lastAt(k) + 1);
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
    const seq = (i: number): string => (points[i] as bigint).toString();

    for (const [k, o] of outputs.entries()) {
      if (o.state !== 'corrupt') continue;
      const a = firstAt(k);
      const b = lastAt(k);
      this.note({
        kind: 'corrupt_output',
        shard,
        from: seq(a),
        to: seq(b),
        affectsRange: this.touchesRange(o),
        message: `${name} ${seq(a)}..${seq(b)}: batch output ${o.digest} ${o.conflicting ? 'has two different copies of a part' : 'does not match its digest'}; not counted`,
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
        this.checkAgreement(shard, name, s, v, from, points, touches);
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
    from: Map<number, Array<{ o: Output; a: number; b: number }>>,
    points: bigint[],
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
      for (const e of from.get(u) ?? []) if (e.b <= t && reach[e.b - s] === 1) reach[u - s] = 1;
    }
    let lo = -1;
    let hi = -1;
    for (let u = s; u < t; u++) {
      if (sig1[u - s] === -1) continue;
      for (const e of from.get(u) ?? []) {
        if (e.b > t) continue;
        const [x1, x2] = this.signature(e.o);
        const c1 = ((sig1[u - s] as number) + x1) % P1;
        const c2 = ((sig2[u - s] as number) + x2) % P2;
        const v = e.b - s;
        if (sig1[v] === -1) {
          sig1[v] = c1;
          sig2[v] = c2;
          setBy[v] = u;
        } else if ((sig1[v] !== c1 || sig2[v] !== c2) && reach[v] === 1) {
          const start = Math.min(u, setBy[v] as number);
          lo = lo === -1 ? start : Math.min(lo, start);
          hi = Math.max(hi, e.b - 1);
        }
      }
    }
    if (lo === -1) return;
    const f = (points[lo] as bigint).toString();
    const l = (points[hi] as bigint).toString();
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
  private signature(o: Output): [number, number] {
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

/** The digest recomputed from the assembled cells (parts in order). */
function outputDigestOf(o: Output, forEachCell: (o: Output, visit: (c: StoredCell) => void) => void): string {
  const d = outputDigestFor(o);
  forEachCell(o, (c) => d.add(c.startMs, c.endMs, c.currency, c.count, c.total, c.min, c.max));
  return d.hex();
}

const outputDigestFor = (h: Output): OutputDigest =>
  new OutputDigest(
    { shardId: h.shardId, first: h.first.toString(), last: h.last.toString() },
    h.records,
    h.parts,
  );

/**
 * A copy of a string that holds on to nothing else. Strings taken from a decoded record may be
 * slices of the decoder's text: keeping one would keep the whole chunk it came from (for every
 * output held, that is the whole object). A flat copy (a concatenation-and-slice trick would be
 * cheaper to make but keeps a slice header and its parent: more bytes for each output held).
 */
const own = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

const sameHeader = (a: Output, b: BatchOutputHeader): boolean =>
  a.shardId === b.shardId &&
  a.first === b.first &&
  a.last === b.last &&
  a.parts === b.parts &&
  a.records === b.records;

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
