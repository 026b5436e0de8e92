/**
 * A compact set of 64-bit keys, each with a 32-bit fingerprint, for de-duplicating millions of
 * record ids in little memory: 12 bytes a slot in one typed array (a Map<string, object> costs
 * ~200 bytes an entry, which for a million aggregates alone would break `results`' memory budget).
 *
 * Open addressing, linear probing, load ≤ 0.5, grows by doubling. The all-zero slot means
 * "empty", so the key (0,0) itself is kept beside the table.
 */

export type IdSetAnswer = 'new' | 'duplicate' | 'conflict';

export class IdSet {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;
  /** Fingerprint of the key (0,0) when present. */
  private zeroFp: number | undefined;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Uint32Array(cap * 3);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count + (this.zeroFp === undefined ? 0 : 1);
  }

  /**
   * Adds (hi, lo) with fingerprint fp: 'new' when the key was unknown, 'duplicate' when known with
   * the same fingerprint, 'conflict' when known with a different one (the set keeps the first).
   */
  add(hi: number, lo: number, fp: number): IdSetAnswer {
    const h = hi >>> 0;
    const l = lo >>> 0;
    if (h === 0 && l === 0) {
      if (this.zeroFp === undefined) {
        this.zeroFp = fp >>> 0;
        return 'new';
      }
      return this.zeroFp === fp >>> 0 ? 'duplicate' : 'conflict';
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const s = this.slots;
    let i = (Math.imul(l ^ h, 0x9e3779b1) >>> 0) & this.mask;
    for (;;) {
      const at = i * 3;
      const sh = s[at] as number;
      const sl = s[at + 1] as number;
      if (sh === 0 && sl === 0) {
        s[at] = h;
        s[at + 1] = l;
        s[at + 2] = fp >>> 0;
        this.count++;
        return 'new';
      }
      if (sh === h && sl === l) return s[at + 2] === fp >>> 0 ? 'duplicate' : 'conflict';
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = new Uint32Array(cap * 3);
    this.mask = cap - 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += 3) {
      const h = old[at] as number;
      const l = old[at + 1] as number;
      if (h !== 0 || l !== 0) this.add(h, l, old[at + 2] as number);
    }
  }
}

/** FNV-1a over a string's UTF-16 code units, 32 bits. */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 64-bit string hash (cyrb53's two mixed lanes, both kept) as a key for IdSet. */
export function hash64(s: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h2 >>> 0, h1 >>> 0];
}
