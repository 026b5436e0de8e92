import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BenchResults, END, renderTable, START, withTable } from '../../bench/_table.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const results = JSON.parse(readFileSync(new URL('bench/results.json', root), 'utf8')) as BenchResults;

describe('the README benchmark table', () => {
  // The adversary: a number copied by hand, or a results.json committed without regenerating.
  it('is exactly what the generator makes from the committed bench/results.json', () => {
    expect(readme).toBe(withTable(readme, results));
    const table = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
    expect(table).toBe(renderTable(results).trim());
  });

  it('every row has a ceiling measured in the same run, or says why not; every missed target says what bounds it', () => {
    expect(results.rows.length).toBeGreaterThan(0);
    for (const r of results.rows) {
      if (r.ceilingName !== null && r.ceiling === null) expect(r.skipped, r.id).toMatch(/\S/);
      if (r.met === false) expect(r.bound, r.id).toMatch(/\S/);
      if (r.ceiling !== null && r.met !== null) expect(Number.isFinite(r.ratio), r.id).toBe(true);
    }
  });
});

describe('renderTable', () => {
  const doc: BenchResults = {
    date: '2026-01-01T00:00:00.000Z',
    machine: 'test',
    rows: [
      {
        bench: 'x',
        id: 'a',
        figure: 'a | b',
        unit: 'ms',
        paypipe: 120,
        paypipeSpread: [110, 130],
        ceilingName: 'node -e 0',
        ceiling: 100,
        ratio: 1.2,
        target: '≤ 1.15×',
        met: false,
        bound: 'startup',
      },
      {
        bench: 'x',
        id: 'b',
        figure: 'recipe',
        unit: 's',
        paypipe: 1,
        ceilingName: 'aws',
        ceiling: null,
        ratio: null,
        target: '≥ 20×',
        met: null,
        skipped: 'no `aws` on PATH',
      },
    ],
  };

  it('prints the ratio, the reason a ceiling is missing, and what bounds a miss; pipes never break a row', () => {
    const t = renderTable(doc);
    expect(t).toContain('| a \\| b | 120 (110–130) ms | node -e 0: 100 ms | 1.20× | ≤ 1.15× | **no** |');
    expect(t).toContain('aws: not measured (no `aws` on PATH)');
    expect(t).toContain('- **a \\| b** (1.20×, target ≤ 1.15×): startup');
  });

  it('refuses a README without the markers', () => {
    expect(() => withTable('# no markers', doc)).toThrow(/bench:start/);
  });
});
