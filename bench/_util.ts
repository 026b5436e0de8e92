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

/**
 * Bench data in the format the aggregator writes: batch output lines (src/domain/batch-output.ts),
 * one per batch, batches taking turns over `shards` shards with consecutive, disjoint sequence
 * ranges, each with `windows` windows × the 5 currencies of cells. Figures are deterministic.
 */
export class BatchOutputSource {
  private readonly next: bigint[];
  private n = 0;

  constructor(
    private readonly shards: number,
    private readonly windows: number,
    private readonly render: typeof import('../src/domain/batch-output.js').renderBatchOutput,
  ) {
    this.next = Array.from({ length: shards }, () => 49_650_000_000_000_000_000_000_000n);
  }

  /** One batch output line whose windows start at `windowStartMs` (a minute each). */
  line(windowStartMs: number): string {
    const k = this.n++;
    const shard = k % this.shards;
    const first = this.next[shard] as bigint;
    const records = 400 + (k % 200);
    const last = first + BigInt(records - 1) * 1_000_000n;
    this.next[shard] = last + 1_000_000n;
    const cells = [];
    for (let w = 0; w < this.windows; w++) {
      for (const [c, currency] of ['AUD', 'EUR', 'GBP', 'JPY', 'USD'].entries()) {
        // At most 20 × 20 = 400 payments, never more than the batch has records.
        const count = 1 + ((k + w + c) % 20);
        const min = 100;
        const max = 1000 + ((k * 7 + c) % 997);
        cells.push({
          windowStartMs: windowStartMs + w * 60_000,
          currency,
          totals: {
            count,
            totalMinor: count === 1 ? max : min + max + (count - 2) * 500,
            minMinor: min,
            maxMinor: max,
          },
        });
      }
    }
    const [only] = this.render(
      {
        shardId: `shardId-${String(shard).padStart(12, '0')}`,
        firstSequenceNumber: first.toString(),
        lastSequenceNumber: last.toString(),
      },
      records,
      cells,
      60_000,
    );
    return only as string;
  }
}
