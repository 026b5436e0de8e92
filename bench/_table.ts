/**
 * The README's benchmark table, generated from bench/results.json (never hand-copied): one row per
 * figure, paypipe's median and spread, the ceiling's, the ratio, the target and whether it is met;
 * below it, for each missed target, what bounds it. `node scripts/bench.mjs --readme` writes it
 * between the README's markers; test/bench/readme-table.test.ts checks the README is up to date.
 */
import type { BenchRow } from './types.js';

export interface BenchResults {
  date: string;
  machine: string;
  rows: Array<BenchRow & { bench: string }>;
}

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

const num = (n: number): string =>
  !Number.isFinite(n)
    ? '—'
    : Math.abs(n) >= 1000
      ? Math.round(n).toLocaleString('en-US')
      : Math.abs(n) >= 100
        ? n.toFixed(0)
        : Math.abs(n) >= 10
          ? n.toFixed(1)
          : Math.abs(n) >= 1
            ? n.toFixed(2)
            : n.toPrecision(2);

const withSpread = (m: number, s: [number, number] | undefined, unit: string): string =>
  `${num(m)}${s === undefined ? '' : ` (${num(s[0])}–${num(s[1])})`} ${unit}`;

/** One cell never breaks the table: pipes escaped, no newlines. */
const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function renderTable(doc: BenchResults): string {
  const out = [
    `Run of ${doc.date.slice(0, 16).replace('T', ' ')} UTC on ${doc.machine}. Medians, spread in parentheses (quartiles, or min–max under 4 rounds); every ceiling measured in the same run, interleaved with paypipe; ratios are per-round medians.`,
    '',
    '| figure | paypipe | ceiling (same run) | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of doc.rows) {
    const ceiling =
      r.ceilingName === null
        ? '—'
        : r.ceiling === null
          ? `${r.ceilingName}: not measured (${r.skipped ?? 'no reason given'})`
          : `${r.ceilingName}: ${withSpread(r.ceiling, r.ceilingSpread, r.unit)}`;
    out.push(
      `| ${[
        r.figure,
        withSpread(r.paypipe, r.paypipeSpread, r.unit),
        ceiling,
        r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
        r.target,
        r.met === null ? '—' : r.met ? 'yes' : '**no**',
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  const missed = doc.rows.filter((r) => r.met === false);
  if (missed.length > 0) {
    out.push('', 'Missed targets, what bounds them and what it would take:', '');
    for (const r of missed)
      out.push(
        `- **${cell(r.figure)}** (${r.ratio?.toFixed(2)}×, target ${r.target}): ${r.bound ?? 'not analysed yet'}`,
      );
  }
  return out.join('\n');
}

/** The README with the table between the markers replaced; throws when the markers are missing. */
export function withTable(readme: string, doc: BenchResults): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a === -1 || b < a) throw new Error(`README.md has no ${START} … ${END} section`);
  return `${readme.slice(0, a + START.length)}\n${renderTable(doc)}\n${readme.slice(b)}`;
}
