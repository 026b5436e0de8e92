/**
 * Soak only (PAYPIPE_SOAK=1): the memory bench (bench/memory.ts) as a pass/fail test — `results`
 * over 200 MB of aggregates under 200 MB peak RSS, and `send --count 10000000` flat for 25 s.
 * Not in the default suite: it writes 200 MB to s3rver and keeps both cores busy for ~1 minute.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../bench/memory.js';

const SOAK = process.env.PAYPIPE_SOAK === '1';

describe.skipIf(!SOAK)('memory (soak)', () => {
  it('results stays under 200 MB over 200 MB of data; send memory stays flat', {
    timeout: 600_000,
  }, async () => {
    const rows = await run();
    expect(rows.length).toBe(2);
    for (const r of rows)
      expect(r.met, `${r.figure}: ${r.paypipe.toFixed(1)} ${r.unit} (${r.note})`).toBe(true);
  });
});
