/**
 * The merge's output, pinned: generated histories (and pairs of histories mixed together, records
 * dropped, cells tampered, old-format aggregates with conflicting copies, a range that cuts windows)
 * merged, and every MergeResult rendered as JSON — cells, rows with their XOR ids, issues with their
 * messages, stats — hashed into a snapshot written by the merge before its storage was rewritten as
 * typed columns. The adversary is a refactor of how outputs are held: any change in which chain is
 * chosen (ids), how ties are broken, how ranges print, or what is counted shows up as a changed line.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateId, type CellFigures, CellParser } from '../../src/domain/aggregate.js';
import { parseBatchOutputPart, renderBatchOutput } from '../../src/domain/batch-output.js';
import { type MergeRange, mergeRecords } from '../../src/domain/exact-merge.js';
import { delivered, simulate, T0, WIDTH, worldArb } from '../factories/merge-histories.js';

interface OutputRecord {
  shard_id: string;
  first_sequence_number: string;
  last_sequence_number: string;
  aggregates: CellFigures[];
}

/** Deterministic choices from an index (no Math.random: the corpus must be the same every run). */
const pick = (i: number, k: number): number => ((i * 2654435761) >>> 0) % k;

function corpus(): Array<{ name: string; records: unknown[]; range?: MergeRange }> {
  const worlds = fc.sample(worldArb, { seed: 20_261_203, numRuns: 120 });
  const histories = worlds.map((w) => delivered(w, simulate(w)));
  const cases: Array<{ name: string; records: unknown[]; range?: MergeRange }> = [];
  const range = { fromMs: T0 + WIDTH, toMs: T0 + 3 * WIDTH };
  for (const [i, recs] of histories.entries()) {
    cases.push({ name: `world ${i}`, records: recs });
    if (i % 3 === 0) cases.push({ name: `world ${i} ranged`, records: recs, range });
    // Records dropped: incomplete outputs, gaps.
    if (i % 4 === 1)
      cases.push({ name: `world ${i} dropped`, records: recs.filter((_, k) => pick(k + i, 5) !== 0) });
    // Two histories over the same shards mixed: overlapping ranges, ambiguity, gaps.
    if (i % 5 === 2) {
      const other = histories[(i + 1) % histories.length] as unknown[];
      cases.push({
        name: `world ${i} mixed`,
        records: [...recs, ...other.slice(0, 1 + pick(i, other.length))],
      });
    }
    // A cell tampered (still a valid cell): its output is corrupt.
    if (i % 6 === 3 && recs.length > 0) {
      const copy = structuredClone(recs) as OutputRecord[];
      const target = copy[pick(i, copy.length)] as OutputRecord;
      const cell = target.aggregates[0];
      if (cell !== undefined) cell.min_amount = 0;
      cases.push({ name: `world ${i} tampered`, records: copy });
    }
    // A second complete output for exactly a range already written, with other minimums: the
    // chains agree on counts and totals, and the tie between the two is broken by digest.
    if (i % 4 === 2) {
      const extra: unknown[] = [];
      for (const r of recs) {
        const p = parseBatchOutputPart(r, new CellParser());
        if (!p.ok || p.part.header.parts !== 1 || p.part.cells.length === 0) continue;
        const h = p.part.header;
        const cells = p.part.cells.map((c) => ({
          windowStartMs: c.windowStartMs,
          currency: c.currency,
          totals: { ...c.totals, minMinor: Math.min(c.totals.minMinor, 1) },
        }));
        const ref = {
          shardId: h.shardId,
          firstSequenceNumber: h.firstSequenceNumber,
          lastSequenceNumber: h.lastSequenceNumber,
        };
        for (const line of renderBatchOutput(ref, h.records, cells, WIDTH)) extra.push(JSON.parse(line));
        if (extra.length >= 3) break;
      }
      cases.push({ name: `world ${i} twins`, records: [...extra, ...recs] });
    }
    // Old-format aggregates from a batch's cells, one of them again with other figures.
    if (i % 7 === 4 && recs.length > 0) {
      const src = recs[0] as OutputRecord;
      const ref = {
        shardId: src.shard_id,
        firstSequenceNumber: src.first_sequence_number,
        lastSequenceNumber: src.last_sequence_number,
      };
      const legacy = src.aggregates.map((c) => ({ id: aggregateId(ref, c.window_start, c.currency), ...c }));
      const conflicting = legacy.slice(0, 1).map((c) => ({ ...c, min_amount: 0 }));
      cases.push({
        name: `world ${i} legacy`,
        records: [...recs.slice(1), ...legacy, ...legacy, ...conflicting],
      });
    }
  }
  return cases;
}

describe('exact merge output, pinned', () => {
  it('every case of a generated corpus renders byte for byte as before', async () => {
    const lines = corpus().map(({ name, records, range }) => {
      const m = mergeRecords(records, range);
      const kinds = [...new Set(m.issues.map((x) => x.kind))].sort().join(',');
      const json = JSON.stringify(m);
      const hash = createHash('sha256').update(json).digest('hex').slice(0, 24);
      return `${name}: ${hash} cells=${m.cells.length} complete=${m.complete} issues=${kinds || '-'}`;
    });
    // The corpus reaches every kind of issue and both verdicts.
    const text = lines.join('\n');
    for (const k of ['gap', 'ambiguous', 'corrupt_output', 'id_conflict']) expect(text).toContain(k);
    expect(text).toContain('complete=true');
    await expect(`${text}\n`).toMatchFileSnapshot('./__snapshots__/exact-merge-pinned.txt');
  });
});
