import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hourPrefixes, parsePartition, partitionPrefix } from '../../src/pipeline/partitions.js';
import { isoMs, windowOf, windowStartMs } from '../../src/domain/window.js';

describe('windows', () => {
  it.each([
    [Date.UTC(2024, 0, 15, 10, 30, 0, 0), 60_000, '2024-01-15T10:30:00.000Z', '2024-01-15T10:31:00.000Z'],
    [Date.UTC(2024, 0, 15, 10, 30, 59, 999), 60_000, '2024-01-15T10:30:00.000Z', '2024-01-15T10:31:00.000Z'],
    [Date.UTC(2024, 0, 15, 10, 31, 0, 0), 60_000, '2024-01-15T10:31:00.000Z', '2024-01-15T10:32:00.000Z'],
    [Date.UTC(2024, 0, 15, 10, 37, 12, 345), 300_000, '2024-01-15T10:35:00.000Z', '2024-01-15T10:40:00.000Z'],
    [
      Date.UTC(2024, 0, 15, 23, 59, 59, 999),
      3_600_000,
      '2024-01-15T23:00:00.000Z',
      '2024-01-16T00:00:00.000Z',
    ],
    [Date.UTC(2024, 1, 29, 12, 0, 0, 1), 1000, '2024-02-29T12:00:00.000Z', '2024-02-29T12:00:01.000Z'],
  ])('%i in %i ms windows → [%s, %s)', (ms, width, start, end) => {
    const w = windowOf(ms, width);
    expect(w.start).toBe(start);
    expect(w.end).toBe(end);
    expect(w.endMs - w.startMs).toBe(width);
  });

  it('every instant falls in exactly the window that contains it (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
        fc.constantFrom(1000, 60_000, 300_000, 3_600_000),
        (ms, width) => {
          const s = windowStartMs(ms, width);
          expect(s <= ms && ms < s + width).toBe(true);
          expect(s % width).toBe(0);
          expect(isoMs(s)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        },
      ),
    );
  });
});

describe('partitions', () => {
  const ms = Date.UTC(2024, 0, 15, 10, 30);
  it('builds Firehose-style UTC hour prefixes', () => {
    expect(partitionPrefix('aggregations/', ms)).toBe('aggregations/year=2024/month=01/day=15/hour=10/');
    expect(partitionPrefix('data/', Date.UTC(2024, 11, 31, 23, 59, 59))).toBe(
      'data/year=2024/month=12/day=31/hour=23/',
    );
  });

  it('lists every hour a range touches, inclusive at both ends', () => {
    expect(hourPrefixes('data/', Date.UTC(2024, 0, 15, 22, 59), Date.UTC(2024, 0, 16, 1, 0))).toEqual([
      'data/year=2024/month=01/day=15/hour=22/',
      'data/year=2024/month=01/day=15/hour=23/',
      'data/year=2024/month=01/day=16/hour=00/',
      'data/year=2024/month=01/day=16/hour=01/',
    ]);
    expect(hourPrefixes('data/', ms, ms)).toEqual(['data/year=2024/month=01/day=15/hour=10/']);
    expect(hourPrefixes('data/', ms + 1, ms)).toEqual([]);
  });

  it('parses keys back', () => {
    expect(
      parsePartition('aggregations/year=2024/month=01/day=15/hour=10/paypipe-1-2024-01-15-10-31-00-abc.gz'),
    ).toEqual({
      base: 'aggregations/',
      year: 2024,
      month: 1,
      day: 15,
      hour: 10,
      startMs: Date.UTC(2024, 0, 15, 10),
    });
    expect(parsePartition('year=2024/month=02/day=29/hour=00/')?.startMs).toBe(Date.UTC(2024, 1, 29));
  });

  it.each([
    'aggregations/2024/01/15/10/x.gz',
    'aggregations/year=2024/month=1/day=15/hour=10/x',
    'aggregations/year=2024/month=13/day=15/hour=10/x',
    'aggregations/year=2023/month=02/day=29/hour=10/x',
    'aggregations/year=2024/month=01/day=15/hour=24/x',
    'aggregations/year=2024/month=01/day=15/',
    'aggregations/year=20x4/month=01/day=15/hour=10/',
    'aggregations/xyear=2024/month=01/day=15/hour=10/',
  ])('rejects %s', (key) => {
    expect(parsePartition(key)).toBeUndefined();
  });

  it('parsePartition inverts partitionPrefix (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }), (t) => {
        const p = parsePartition(`${partitionPrefix('aggregations/', t)}file.gz`);
        expect(p?.base).toBe('aggregations/');
        expect(p?.startMs).toBe(Math.floor(t / 3_600_000) * 3_600_000);
      }),
    );
  });
});
