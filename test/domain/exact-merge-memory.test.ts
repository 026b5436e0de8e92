/**
 * What the merge holds per batch output until result(). The adversary is a long range: every
 * output must be held to the end (a redelivery with other boundaries may come in any later object,
 * so no shard's chain can be chosen early), and a week of one-minute objects is ~300,000 outputs.
 * Held as objects, strings, BigInts and a Map entry each, that was ~465 bytes of heap an output
 * plus ~60 of cells; in typed columns it is ~60 bytes a row, ~58 for the two sequence numbers and
 * ~55 for five cells, all outside the JS heap. Measured after full collections (gc exposed at run
 * time), so the figures are what is live, not what happens to be uncollected.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { renderBatchOutput } from '../../src/domain/batch-output.js';
import { ExactMerger } from '../../src/domain/exact-merge.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Full collections until the figures settle: V8 frees the backing stores of dead array buffers
 * (the columns' old copies after each growth) on a sweeper task, not inside gc() itself.
 */
async function settle(): Promise<NodeJS.MemoryUsage> {
  let m = process.memoryUsage();
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const next = process.memoryUsage();
    if (next.arrayBuffers === m.arrayBuffers && i > 0) return next;
    m = next;
  }
  return m;
}

const CURRENCIES = ['AUD', 'EUR', 'GBP', 'JPY', 'USD'];

/** Like the bench's objects: two shards, 56-digit sequence numbers, five currencies a minute. */
function* outputs(n: number): Generator<string> {
  const next = [49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n, 0n];
  next[1] = next[0] as bigint;
  for (let k = 0; k < n; k++) {
    const shard = k % 2;
    const first = next[shard] as bigint;
    const records = 400 + (k % 200);
    const last = first + BigInt(records - 1) * 1_000_000n;
    next[shard] = last + 1_000_000n;
    const minute = Date.UTC(2024, 0, 1) + Math.floor(k / 30) * 60_000;
    const cells = CURRENCIES.map((currency, c) => {
      const count = 1 + ((k + c) % 20);
      const max = 1000 + ((k * 7 + c) % 997);
      return {
        windowStartMs: minute,
        currency,
        totals: {
          count,
          totalMinor: count === 1 ? max : 100 + max + (count - 2) * 500,
          minMinor: 100,
          maxMinor: max,
        },
      };
    });
    const ref = {
      shardId: `shardId-${String(shard).padStart(12, '0')}`,
      firstSequenceNumber: first.toString(),
      lastSequenceNumber: last.toString(),
    };
    yield renderBatchOutput(ref, records, cells, 60_000)[0] as string;
  }
}

describe('exact merge memory', () => {
  it('holds a batch output in under 320 bytes (heap and buffers), under 100 of them JS heap', async () => {
    const n = 60_000;
    const merger = new ExactMerger();
    const m0 = await settle();
    // Made as they are read (a list of them held here would be measured too).
    for (const l of outputs(n)) merger.add(JSON.parse(l));
    const m1 = await settle();
    const heap = (m1.heapUsed - m0.heapUsed) / n;
    const buffers = (m1.arrayBuffers - m0.arrayBuffers) / n;
    // The merger is still live here (and must be: its result is checked below).
    const r = merger.result();
    expect(r.complete).toBe(true);
    expect(r.stats.batchOutputs).toMatchObject({ seen: n, complete: n, counted: n, superseded: 0 });
    expect(r.cells.length).toBe((n / 30) * CURRENCIES.length);
    expect(heap).toBeLessThan(100);
    expect(heap + buffers).toBeLessThan(320);
  });
});
