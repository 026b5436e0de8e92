/**
 * The batch output digest is written as bytes into one shared buffer (no JS string per output).
 * Its adversary: any text the string form would have hashed differently — shard ids with quotes,
 * escapes, non-ASCII and astral characters, numbers that are negative, zero, past 2^31 or not safe
 * integers, outputs long enough to pass the buffer, and two digests built at once (the buffer is
 * shared). Each must equal SHA-256 over the text as the string form built it (kept here as the
 * reference), which is what every batch output already written carries.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellPrefix, OutputDigest } from '../../src/domain/batch-output.js';

interface Cell {
  s: number;
  e: number;
  c: string;
  n: number[];
}

/** The digest as the string form computed it. */
function reference(
  shardId: string,
  first: string,
  last: string,
  records: number,
  parts: number,
  cells: Cell[],
): string {
  let text = JSON.stringify([2, shardId, first, last, records, parts]);
  for (const x of cells) text += `\n${x.s},${x.e},${x.c},${x.n[0]},${x.n[1]},${x.n[2]},${x.n[3]}`;
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

const num = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.maxSafeNat(),
  fc.constantFrom(
    0,
    -0,
    9,
    10,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    999_999_999_999_999,
  ),
  fc.double(),
);
const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
const cellArb = fc.record({ s: num, e: num, c: text, n: fc.tuple(num, num, num, num) });
const seq = fc.stringMatching(/^[0-9]{1,128}$/);
const outputArb: fc.Arbitrary<Output> = fc.record({
  shardId: text,
  first: fc.oneof(seq, text),
  last: fc.oneof(seq, text),
  records: num,
  parts: num,
  cells: fc.array(cellArb, { maxLength: 40 }),
});

interface Output {
  shardId: string;
  first: string;
  last: string;
  records: number;
  parts: number;
  cells: Cell[];
}

function build(o: Output, withPrefix: boolean): OutputDigest {
  const d = new OutputDigest({ shardId: o.shardId, first: o.first, last: o.last }, o.records, o.parts);
  for (const x of o.cells) {
    const [a, b, c, e] = x.n as [number, number, number, number];
    if (withPrefix) d.addWithPrefix(cellPrefix(x.s, x.e, x.c), a, b, c, e);
    else d.add(x.s, x.e, x.c, a, b, c, e);
  }
  return d;
}

describe('OutputDigest over bytes', () => {
  it('equals SHA-256 of the text the string form built, for any shard id, numbers and cells', () => {
    fc.assert(
      fc.property(outputArb, fc.boolean(), (o, withPrefix) => {
        const want = reference(o.shardId, o.first, o.last, o.records, o.parts, o.cells);
        expect(build(o, withPrefix).hex()).toBe(want);
        // of() (the reader's entry, given checked decimal strings) built its header with a template.
        const d = OutputDigest.of(JSON.stringify(o.shardId), o.first, o.last, o.records, o.parts);
        for (const x of o.cells) d.add(x.s, x.e, x.c, ...(x.n as [number, number, number, number]));
        let t = `[2,${JSON.stringify(o.shardId)},"${o.first}","${o.last}",${o.records},${o.parts}]`;
        for (const x of o.cells) t += `\n${x.s},${x.e},${x.c},${x.n[0]},${x.n[1]},${x.n[2]},${x.n[3]}`;
        expect(d.hex()).toBe(createHash('sha256').update(t).digest('hex').slice(0, 32));
      }),
      { numRuns: 500 },
    );
  });

  it('two digests built at once, cell by cell, each equal their own reference', () => {
    fc.assert(
      fc.property(outputArb, outputArb, (x, y) => {
        const dx = new OutputDigest({ shardId: x.shardId, first: x.first, last: x.last }, x.records, x.parts);
        const dy = new OutputDigest({ shardId: y.shardId, first: y.first, last: y.last }, y.records, y.parts);
        for (let i = 0; i < Math.max(x.cells.length, y.cells.length); i++) {
          for (const [d, o] of [
            [dx, x],
            [dy, y],
          ] as const) {
            const c = o.cells[i];
            if (c !== undefined) d.add(c.s, c.e, c.c, ...(c.n as [number, number, number, number]));
          }
        }
        const hy = dy.hex();
        expect(dx.hex()).toBe(reference(x.shardId, x.first, x.last, x.records, x.parts, x.cells));
        expect(hy).toBe(reference(y.shardId, y.first, y.last, y.records, y.parts, y.cells));
      }),
      { numRuns: 300 },
    );
  });

  it('an output far past the buffer (a 1 MiB output of many cells, a 100,000-character shard id)', () => {
    const cells: Cell[] = Array.from({ length: 20_000 }, (_, i) => ({
      s: 1_705_312_200_000 + i * 60_000,
      e: 1_705_312_260_000 + i * 60_000,
      c: i % 3 === 0 ? 'USD' : 'JPY',
      n: [i + 1, 999_999_999_999_999 - i, i, 2 ** 40 + i],
    }));
    const long = 'ß'.repeat(100_000);
    for (const shardId of ['shardId-000000000000', long]) {
      const o = { shardId, first: '1', last: '9'.repeat(128), records: 10_000, parts: 7, cells };
      expect(build(o, true).hex()).toBe(reference(shardId, o.first, o.last, 10_000, 7, cells));
    }
  });

  it('words() is the hex digest as four big-endian words', () => {
    const o = { shardId: 'a', first: '1', last: '2', records: 2, parts: 1, cells: [] };
    const hex = build(o, false).hex();
    const w = build(o, false).words(new Uint32Array(4));
    expect([...w].map((x) => x.toString(16).padStart(8, '0')).join('')).toBe(hex);
  });
});
