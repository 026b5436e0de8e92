import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { interleave, onPath, pairedRatio, spread } from '../../bench/_util.js';

describe('onPath', () => {
  const saved = process.env.PATH;
  afterEach(() => {
    process.env.PATH = saved;
  });

  // The old bench looked for /usr/bin/aws only: an `aws` anywhere else gave a silent null baseline.
  it('finds an executable wherever PATH puts it, and nothing when it is absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paypipe-onpath-'));
    try {
      writeFileSync(join(dir, 'aws'), '#!/bin/sh\n');
      chmodSync(join(dir, 'aws'), 0o755);
      process.env.PATH = `/nonexistent:${dir}`;
      expect(onPath('aws')).toBe(join(dir, 'aws'));
      process.env.PATH = '/nonexistent';
      expect(onPath('aws')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('interleave', () => {
  it('warms every subject up, then alternates the order each round (A B, B A, …)', async () => {
    const calls: string[] = [];
    const s = await interleave(3, {
      a: () => calls.push('a'),
      b: () => calls.push('b'),
    });
    expect(calls).toEqual(['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']);
    expect(s.a).toHaveLength(3);
    expect(s.b).toHaveLength(3);
  });
});

describe('pairedRatio and spread', () => {
  // The old cli-startup bench printed node ÷ paypipe: the ratio must be a ÷ b, per round.
  it('is a ÷ b per round, the median of those', () => {
    expect(pairedRatio([120, 240, 130], [100, 200, 100])).toBeCloseTo(1.2);
  });

  it('a constant drift that hits both sides of a round does not move the paired ratio (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.5, max: 50, noNaN: true }), { minLength: 3, maxLength: 15 }),
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        (drift, k) => {
          const b = drift.map((d) => 100 * d);
          const a = b.map((x) => x * k);
          expect(pairedRatio(a, b)).toBeCloseTo(k, 9);
        },
      ),
    );
  });

  it('spread is the median and the quartiles (min–max under 4 samples)', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, lo: 1, hi: 3 });
    expect(spread([1, 2, 3, 4, 5])).toEqual({ median: 3, lo: 2, hi: 4 });
  });
});
