import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  entryBytes,
  entryProblem,
  KINESIS_LIMITS,
  MAX_ENTRY_BYTES,
  MAX_REQUEST_BYTES,
  planBatches,
  utf8Length,
} from '../../src/pipeline/batching.js';

const entry = (bytes: number, key = 'k') => ({ data: new Uint8Array(bytes), partitionKey: key });

describe('entry sizes', () => {
  it.each(['', 'abc', 'é', '東京', '🍣', 'a🍣b', '\ud800'])('utf8Length(%j) matches Buffer', (s) => {
    expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
  });

  it('counts data plus partition key bytes', () => {
    expect(entryBytes({ data: new Uint8Array(10), partitionKey: 'é' })).toBe(12);
  });

  it('rejects entries no request can carry', () => {
    expect(entryProblem(entry(MAX_ENTRY_BYTES - 1, 'k'))).toBeUndefined();
    expect(entryProblem(entry(MAX_ENTRY_BYTES, 'k'))).toMatch(/1048577 bytes/);
    expect(entryProblem(entry(1, ''))).toMatch(/partition key must be 1-256/);
    expect(entryProblem(entry(1, 'k'.repeat(256)))).toBeUndefined();
    expect(entryProblem(entry(1, 'k'.repeat(257)))).toMatch(/got 257/);
    // 256 emoji are 512 UTF-16 units but 256 characters: allowed.
    expect(entryProblem(entry(1, '🍣'.repeat(256)))).toBeUndefined();
  });
});

describe('planBatches', () => {
  it('splits at 500 records', () => {
    const batches = planBatches(Array.from({ length: 1201 }, () => entry(10)));
    expect(batches.map((b) => b.length)).toEqual([500, 500, 201]);
  });

  it('splits at 5 MiB including partition keys', () => {
    // 5 entries of 1 MiB - 1 byte data + 1 byte key = exactly 5 MiB; the sixth starts a new request.
    const batches = planBatches(Array.from({ length: 6 }, () => entry(MAX_ENTRY_BYTES - 1, 'k')));
    expect(batches.map((b) => b.length)).toEqual([5, 1]);
    const withLongerKeys = planBatches(Array.from({ length: 5 }, () => entry(MAX_ENTRY_BYTES - 2, 'kkk')));
    expect(withLongerKeys.map((b) => b.length)).toEqual([4, 1]);
  });

  it('keeps order, never exceeds a limit, never drops an entry (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300_000 }), fc.string({ minLength: 1, maxLength: 20 })), {
          maxLength: 1500,
        }),
        (specs) => {
          const entries = specs.map(([n, k], i) => ({ ...entry(n, k), i }));
          const batches = planBatches(entries);
          expect(batches.flat().map((e) => e.i)).toEqual(entries.map((e) => e.i));
          for (const b of batches) {
            expect(b.length).toBeGreaterThan(0);
            expect(b.length).toBeLessThanOrEqual(KINESIS_LIMITS.maxRecords);
            expect(b.reduce((s, e) => s + entryBytes(e), 0)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('backoffMs', () => {
  it('is full jitter: 0 ≤ delay < min(cap, 100·2^(n-1))', () => {
    expect(backoffMs(1, () => 0)).toBe(0);
    expect(backoffMs(1, () => 0.999999)).toBe(99);
    expect(backoffMs(2, () => 0.5)).toBe(100);
    expect(backoffMs(4, () => 0.5)).toBe(400);
    expect(backoffMs(7, () => 0.999999)).toBe(4999);
    expect(backoffMs(30, () => 0.999999)).toBe(4999);
    expect(backoffMs(3, () => 0.25, 10, 1000)).toBe(10);
  });
});
