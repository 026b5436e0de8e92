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
  combineTotals,
  type ParsedCell,
  parseAggregate,
  renderAggregate,
  type Totals,
} from './aggregate.js';
import { type BatchOutputHeader, isBatchOutput, outputDigest, parseBatchOutputPart } from './batch-output.js';
import { oneLine } from './event.js';
import { fnv1a, hash64, IdSet, isHexId } from './id-set.js';
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

/** Growable typed columns of cells. */
class CellColumns {
  n = 0;
  start = new Float64Array(1024);
  end = new Float64Array(1024);
  cur = new Uint16Array(1024);
  count = new Float64Array(1024);
  total = new Float64Array(1024);
  min = new Float64Array(1024);
  max = new Float64Array(1024);
  readonly currencies: string[] = [];
  private readonly currencyIndex = new Map<string, number>();

  push(c: ParsedCell): void {
    if (this.n === this.start.length) this.grow();
    let ci = this.currencyIndex.get(c.currency);
    if (ci === undefined) {
      ci = this.currencies.length;
      this.currencies.push(c.currency);
      this.currencyIndex.set(c.currency, ci);
    }
    const i = this.n++;
    this.start[i] = c.windowStartMs;
    this.end[i] = c.windowEndMs;
    this.cur[i] = ci;
    this.count[i] = c.totals.count;
    this.total[i] = c.totals.totalMinor;
    this.min[i] = c.totals.minMinor;
    this.max[i] = c.totals.maxMinor;
  }

  totals(i: number): Totals {
    return {
      count: this.count[i] as number,
      totalMinor: this.total[i] as number,
      minMinor: this.min[i] as number,
      maxMinor: this.max[i] as number,
    };
  }

  private grow(): void {
    const g = <T extends Float64Array | Uint16Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.start = g(this.start);
    this.end = g(this.end);
    this.cur = g(this.cur);
    this.count = g(this.count);
    this.total = g(this.total);
    this.min = g(this.min);
    this.max = g(this.max);
  }
}

/** One batch output (all copies of all its parts), keyed by shard, range, digest and size. */
interface Output {
  header: BatchOutputHeader;
  /** Per part number - 1: where its cells are in the columns, and a fingerprint of them. */
  parts: Array<{ off: number; len: number; fp: number } | undefined>;
  received: number;
  /** Two copies of one part differed. */
  conflicting: boolean;
  /** Set by result(): 'complete' | 'incomplete' | 'corrupt'. */
  state?: 'complete' | 'incomplete' | 'corrupt';
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
  private readonly columns = new CellColumns();
  private readonly outputs = new Map<string, Output>();
  private readonly broken: BrokenRange[] = [];
  private readonly legacyIds = new IdSet(1024);
  private readonly merged = new Map<string, MergedAcc>();
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
    const p = parseAggregate(rec, this.cellParser);
    if (!p.ok) return this.invalid(p.detail);
    this.addLegacy(p.aggregate, p.totals, p.windowStartMs, p.windowEndMs);
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
    const r = parseBatchOutputPart(rec, this.cellParser);
    if (!r.ok) {
      if (r.header !== undefined) {
        this.broken.push({ shardId: r.header.shardId, first: r.header.first, last: r.header.last });
      }
      return this.invalid(r.detail);
    }
    const { header: h, part, cells } = r.part;
    const key = `${h.shardId}\u0000${h.first}\u0000${h.last}\u0000${h.digest}\u0000${h.parts}\u0000${h.records}`;
    let o = this.outputs.get(key);
    if (o === undefined) {
      o = { header: h, parts: new Array(h.parts), received: 0, conflicting: false };
      this.outputs.set(key, o);
    }
    let fp = fnv1a(String(cells.length));
    for (const c of cells) fp = cellFingerprint(fp, c);
    const have = o.parts[part - 1];
    if (have !== undefined) {
      if (have.fp === fp) this.stats.duplicates++;
      else o.conflicting = true;
      return true;
    }
    o.parts[part - 1] = { off: this.columns.n, len: cells.length, fp };
    o.received++;
    for (const c of cells) this.columns.push(c);
    return true;
  }

  private addLegacy(a: Aggregate, t: Totals, startMs: number, endMs: number): void {
    const affects = this.inRange(startMs, endMs);
    const [hi, lo] = hash64(a.id);
    let fp = fnv1a(a.currency);
    for (const n of [startMs, endMs, t.count, t.totalMinor, t.minMinor, t.maxMinor]) fp = mix(fp, n);
    const seen = this.legacyIds.add(hi, lo, fp);
    if (seen === 'duplicate') {
      this.stats.duplicates++;
      this.stats.legacy.duplicates++;
      return;
    }
    if (seen === 'conflict') {
      this.note({
        kind: 'id_conflict',
        id: a.id,
        window_start: a.window_start,
        currency: a.currency,
        affectsRange: affects,
        message: `aggregate id ${oneLine(a.id)} seen twice with different figures (${a.window_start} ${a.currency}); the first was kept`,
      });
      return;
    }
    this.stats.legacy.aggregates++;
    if (!affects) {
      this.stats.outOfRange++;
      return;
    }
    this.addMerged(startMs, endMs, a.currency, t, idWords(a.id));
  }

  private addMerged(startMs: number, endMs: number, currency: string, t: Totals, id: Uint32Array): void {
    const key = `${startMs}|${endMs}|${currency}`;
    const m = this.merged.get(key);
    if (m === undefined) {
      this.merged.set(key, { startMs, endMs, currency, totals: { ...t }, xor: id.slice() });
      return;
    }
    const sum = combineTotals(m.totals, t);
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
    m.totals = sum;
    for (let i = 0; i < 4; i++) m.xor[i] = ((m.xor[i] as number) ^ (id[i] as number)) >>> 0;
  }

  result(): MergeResult {
    const byShard = new Map<string, Output[]>();
    const col = this.columns;
    for (const o of this.outputs.values()) {
      const list = byShard.get(o.header.shardId);
      if (list === undefined) byShard.set(o.header.shardId, [o]);
      else list.push(o);
      o.state = o.received < o.header.parts ? 'incomplete' : o.conflicting ? 'corrupt' : 'complete';
      if (o.state === 'complete' && outputDigestOf(o, col) !== o.header.digest) o.state = 'corrupt';
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

  /** Does any cell of this output (or, when its cells are not all known, possibly) fall in the range? */
  private touchesRange(o: Output): boolean {
    if (o.state !== 'complete') return true;
    const col = this.columns;
    return cellIndices(o).some((i) => this.inRange(col.start[i] as number, col.end[i] as number));
  }

  private mergeShard(shard: string, outputs: Output[], broken: BrokenRange[]): void {
    const col = this.columns;
    const name = oneLine(shard);
    // Endpoints of every output of the shard, complete or not: each is a record that exists.
    const keys = new Set<bigint>();
    for (const o of outputs) keys.add(o.header.first).add(o.header.last);
    for (const b of broken) keys.add(b.first).add(b.last);
    const points = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const at = new Map<bigint, number>(points.map((p, i) => [p, i]));
    const m = points.length;
    // Edges: complete outputs, node a → node b + 1 for endpoints a..b, in a canonical order.
    const edges = outputs
      .filter((o) => o.state === 'complete')
      .map((o) => ({ o, a: at.get(o.header.first) as number, b: (at.get(o.header.last) as number) + 1 }))
      .sort((x, y) => x.a - y.a || x.b - y.b || (x.o.header.digest < y.o.header.digest ? -1 : 1));
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
    // Walk back: chosen outputs and skipped endpoints.
    const chosen = new Set<Output>();
    const skipped = new Uint8Array(m);
    for (let v = m; v > 0; ) {
      const e = via[v];
      if (e === null || e === undefined) {
        skipped[v - 1] = 1;
        v -= 1;
      } else {
        chosen.add(e.o);
        v = e.a;
      }
    }
    // Sum the chain.
    for (const o of chosen) {
      const digest = idWords(o.header.digest);
      for (const i of cellIndices(o)) {
        const s = col.start[i] as number;
        const e = col.end[i] as number;
        if (!this.inRange(s, e)) {
          this.stats.outOfRange++;
          continue;
        }
        const currency = col.currencies[col.cur[i] as number] as string;
        this.addMerged(s, e, currency, col.totals(i), cellId(digest, s, currency));
      }
    }
    this.stats.batchOutputs.counted += chosen.size;
    this.stats.batchOutputs.superseded += edges.length - chosen.size;

    // What each endpoint is covered by, for "does this issue touch the range".
    const touching = new Int32Array(m + 1);
    const cover = (a: number, b: number): void => {
      touching[a] = (touching[a] as number) + 1;
      touching[b] = (touching[b] as number) - 1;
    };
    for (const o of outputs) {
      if (this.touchesRange(o))
        cover(at.get(o.header.first) as number, (at.get(o.header.last) as number) + 1);
    }
    for (const b of broken) cover(at.get(b.first) as number, (at.get(b.last) as number) + 1);
    // hits[i]: endpoints before i that something touching the range covers.
    const hits = new Int32Array(m + 1);
    for (let i = 0; i < m; i++) {
      if (i > 0) touching[i] = (touching[i] as number) + (touching[i - 1] as number);
      hits[i + 1] = (hits[i] as number) + ((touching[i] as number) > 0 ? 1 : 0);
    }
    const touches = (a: number, b: number): boolean => (hits[b + 1] as number) > (hits[a] as number);
    const seq = (i: number): string => (points[i] as bigint).toString();

    for (const o of outputs) {
      if (o.state !== 'corrupt') continue;
      const a = at.get(o.header.first) as number;
      const b = at.get(o.header.last) as number;
      this.note({
        kind: 'corrupt_output',
        shard,
        from: seq(a),
        to: seq(b),
        affectsRange: true,
        message: `${name} ${seq(a)}..${seq(b)}: batch output ${o.header.digest} ${o.conflicting ? 'has two different copies of a part' : 'does not match its digest'}; not counted`,
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
    const col = this.columns;
    let a = 0;
    let b = 0;
    for (const i of cellIndices(o)) {
      const s = col.start[i] as number;
      const e = col.end[i] as number;
      if (!this.inRange(s, e)) continue;
      const k = fnv1a(col.currencies[col.cur[i] as number] as string, mix(mix(0x811c9dc5, s), e));
      const count = col.count[i] as number;
      const total = col.total[i] as number;
      a = (a + (count % P1) * (k % P1) + (total % P1) * ((k >>> 7) % P1)) % P1;
      b = (b + (count % P2) * ((k >>> 3) % P2) + (total % P2) * ((k >>> 11) % P2)) % P2;
    }
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
function outputDigestOf(o: Output, col: CellColumns): string {
  const cells = cellIndices(o).map((i) => ({
    windowStartMs: col.start[i] as number,
    windowEndMs: col.end[i] as number,
    currency: col.currencies[col.cur[i] as number] as string,
    totals: col.totals(i),
  }));
  const h = o.header;
  return outputDigest(
    { shardId: h.shardId, first: h.first.toString(), last: h.last.toString() },
    h.records,
    h.parts,
    cells,
  );
}

/** Column indices of an output's cells, part by part (only for outputs with every part present). */
function cellIndices(o: Output): number[] {
  const out: number[] = [];
  for (const p of o.parts) {
    const q = p as { off: number; len: number };
    for (let i = q.off; i < q.off + q.len; i++) out.push(i);
  }
  return out;
}

/** Mixes both 32-bit halves of a safe integer into a 32-bit hash. */
function mix(h: number, n: number): number {
  let x = Math.imul(h ^ (n >>> 0), 0x01000193);
  x = Math.imul(x ^ Math.floor(n / 4294967296), 0x01000193);
  return x >>> 0;
}

function cellFingerprint(h: number, c: ParsedCell): number {
  let x = fnv1a(c.currency, h);
  const t = c.totals;
  for (const n of [c.windowStartMs, c.windowEndMs, t.count, t.totalMinor, t.minMinor, t.maxMinor])
    x = mix(x, n);
  return x;
}

/** A 128-bit id as four words (ids that are not our hex get their MD5, so XOR stays streaming). */
function idWords(id: string): Uint32Array {
  const hex = isHexId(id) ? id : createHash('md5').update(id).digest('hex');
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) >>> 0;
  return w;
}

/** A batch output's contribution to one cell's id: its digest mixed with the cell. */
function cellId(digest: Uint32Array, startMs: number, currency: string): Uint32Array {
  const k = fnv1a(currency, mix(0x9e3779b1, startMs));
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = ((digest[i] as number) ^ Math.imul(k, 2 * i + 1)) >>> 0;
  return w;
}
