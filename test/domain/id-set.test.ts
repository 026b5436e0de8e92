import { describe, expect, it } from 'vitest';
import { hash64, IdSet } from '../../src/domain/id-set.js';

describe('IdSet', () => {
  it('tells new, duplicate and conflicting keys apart across growth, including sequential and zero keys', () => {
    const s = new IdSet(4);
    for (let i = 0; i < 50_000; i++) expect(s.add(0, i, i & 7)).toBe('new');
    expect(s.size).toBe(50_000);
    for (let i = 0; i < 50_000; i += 97) expect(s.add(0, i, i & 7)).toBe('duplicate');
    expect(s.add(0, 12, 99)).toBe('conflict');
    expect(s.add(7, 0, 1)).toBe('new');
    expect(s.size).toBe(50_001);
  });

  it('hash64 separates ids that differ only in their last characters', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(hash64(i.toString(16).padStart(32, '0')).join(':'));
    expect(seen.size).toBe(100_000);
  });
});
