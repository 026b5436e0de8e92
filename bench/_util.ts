/** Helpers shared by the benches (the runner skips files starting with `_`). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Median of the samples (the mean of the middle two for an even count). */
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** The paypipe checkout: cwd or one of its parents (npm run bench runs from the root). */
export function repoRoot(): string {
  for (let d = process.cwd(); ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'paypipe')
      return d;
    if (dirname(d) === d) throw new Error('run the bench from the paypipe checkout');
  }
}

/** Progress for the person running the bench (stderr; the table goes to stdout). */
export const log = (s: string): void => {
  process.stderr.write(`  ${s}\n`);
};
