import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeObject,
  decodeObjectStream,
  encodeNdjson,
  isGzip,
  JsonStreamDecoder,
  MAX_RECORD_CHARS,
  WHOLE_GZIP_MAX_BYTES,
  WHOLE_GZIP_MAX_OUTPUT,
} from '../../src/pipeline/codec.js';
import { generateEvents, mulberry32, recordData, take } from '../../src/domain/generator.js';

/** `bytes` cut at the given points (each taken modulo its length + 1; repeats and empty pieces dropped). */
function chunksAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) chunks.push(bytes.subarray(last, p));
    last = p;
  }
  return chunks;
}

// No .gz: these bytes are sometimes plain on purpose (a .gz key with plain bytes is not_gzip).
const KEY = 'aggregations/year=2024/month=01/day=15/hour=10/obj';
const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const recs = [
  { id: 'a', n: 1, s: 'brace } and quote " inside' },
  { id: 'b', nested: { x: [1, { y: '}{' }] }, esc: '\\' },
  { id: 'c', u: 'Café 東京 🍣', empty: {} },
];

/** Arbitrary JSON objects with nasty strings (braces, quotes, backslashes, unicode). */
const objArb = fc.dictionary(
  fc.string({ maxLength: 8 }),
  fc.oneof(
    fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', 'a', ' ', '\n', 'é', '🍣') }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
  ),
  { maxKeys: 6 },
);

async function streamDecode(chunks: Uint8Array[], key = KEY, sizeHint?: number) {
  const got: unknown[] = [];
  const r = await decodeObjectStream(
    Readable.from(chunks),
    key,
    (rs) => {
      got.push(...rs);
    },
    sizeHint,
  );
  return { ...r, records: got };
}

describe('encodeNdjson', () => {
  it('writes one newline-terminated line per record', () => {
    expect(encodeNdjson([{ a: 1 }, { b: 'x' }])).toBe('{"a":1}\n{"b":"x"}\n');
    expect(encodeNdjson([])).toBe('');
  });
});

describe('decodeObject', () => {
  it.each([
    ['NDJSON', encodeNdjson(recs)],
    ['NDJSON with CRLF and blank lines', recs.map((r) => JSON.stringify(r)).join('\r\n\r\n')],
    ['concatenated JSON (Firehose default)', recs.map((r) => JSON.stringify(r)).join('')],
    ['pretty-printed with whitespace between', recs.map((r) => JSON.stringify(r, null, 2)).join('\n\t ')],
  ])('decodes %s, plain and gzipped', (_, text) => {
    expect(decodeObject(enc(text), KEY)).toEqual({ records: recs });
    expect(decodeObject(gzipSync(enc(text)), KEY)).toEqual({ records: recs });
  });

  it('empty object → empty error', () => {
    expect(decodeObject(new Uint8Array(0), KEY)).toEqual({
      records: [],
      error: { kind: 'empty', key: KEY, offset: 0, message: `${KEY}: object is empty (0 bytes)` },
    });
    expect(decodeObject(enc(' \n '), KEY).error?.kind).toBe('empty');
    expect(decodeObject(gzipSync(enc('')), KEY).error?.kind).toBe('empty');
  });

  it('truncated JSON → records before it plus truncated_json at the cut record', () => {
    const text = `${JSON.stringify(recs[0])}\n${JSON.stringify(recs[1])}\n{"id":"c","u":"Caf`;
    const r = decodeObject(enc(text), KEY);
    expect(r.records).toEqual([recs[0], recs[1]]);
    expect(r.error).toMatchObject({
      kind: 'truncated_json',
      key: KEY,
      offset: text.lastIndexOf('{"id":"c"'),
    });
    expect(r.error?.message).toContain(KEY);
    expect(r.error?.message).toContain('record 3');
  });

  it('garbage between records → not_json at the garbage, records before AND after it', () => {
    const text = `${JSON.stringify(recs[0])}\nHELLO${JSON.stringify(recs[1])}`;
    const r = decodeObject(enc(text), KEY);
    expect(r.records).toEqual([recs[0], recs[1]]);
    expect(r.error).toMatchObject({ kind: 'not_json', offset: text.indexOf('HELLO'), skipped: 1 });
  });

  it('balanced but invalid JSON → not_json at that record, the records after it still returned', () => {
    const text = `${JSON.stringify(recs[0])}{"a":tru}${JSON.stringify(recs[1])}`;
    const r = decodeObject(enc(text), KEY);
    expect(r.records).toEqual([recs[0], recs[1]]);
    expect(r.error).toMatchObject({ kind: 'not_json', offset: JSON.stringify(recs[0]).length, skipped: 1 });
    expect(r.error?.message).toMatch(/record 2 is not valid JSON/);
  });

  it('truncated gzip → truncated_gzip with every complete record before the cut', () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({
      i,
      r: (i * 7919) % 10007,
      pad: 'x'.repeat(i % 17),
    }));
    const gz = gzipSync(enc(encodeNdjson(many)));
    const cut = gz.subarray(0, Math.floor(gz.length / 2));
    const r = decodeObject(cut, KEY);
    expect(r.error).toMatchObject({ kind: 'truncated_gzip', key: KEY, offset: cut.length });
    expect(r.records.length).toBeGreaterThan(100);
    expect(r.records).toEqual(many.slice(0, r.records.length));
  });

  it('corrupt gzip → corrupt_gzip with the records before the damage', () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({ i, r: (i * 7919) % 10007 }));
    const gz = Buffer.from(gzipSync(enc(encodeNdjson(many))));
    const at = Math.floor(gz.length * 0.6);
    for (let i = at; i < at + 64; i++) gz[i] = (gz[i] as number) ^ 0xa5;
    const r = decodeObject(gz, KEY);
    expect(r.error?.kind).toBe('corrupt_gzip');
    // Where zlib noticed: at or after the damage (corrupt deflate can inflate to garbage for a while).
    expect(r.error?.offset).toBeGreaterThanOrEqual(at);
    expect(r.error?.offset).toBeLessThanOrEqual(gz.length);
    expect(r.error?.message).toContain(KEY);
    expect(r.records.length).toBeGreaterThan(100);
    expect(r.records.slice(0, 100)).toEqual(many.slice(0, 100));
  });

  it('gzip magic with a broken header → corrupt_gzip, nothing decoded', () => {
    const r = decodeObject(new Uint8Array([0x1f, 0x8b, 0x00, 0xff, 1, 2, 3]), KEY);
    expect(r.records).toEqual([]);
    expect(['corrupt_gzip', 'truncated_gzip']).toContain(r.error?.kind);
  });

  it('round-trips NDJSON and concatenated JSON of arbitrary objects (property)', () => {
    fc.assert(
      fc.property(fc.array(objArb, { minLength: 1, maxLength: 30 }), fc.boolean(), (objs, gz) => {
        const expected = JSON.parse(JSON.stringify(objs));
        const nd = enc(encodeNdjson(objs));
        const cat = enc(objs.map((o) => JSON.stringify(o)).join(''));
        expect(decodeObject(gz ? gzipSync(nd) : nd, KEY)).toEqual({ records: expected });
        expect(decodeObject(gz ? gzipSync(cat) : cat, KEY)).toEqual({ records: expected });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes, and records + error are always well-formed (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.uint8Array({ maxLength: 400 }).map((b) => new Uint8Array([0x1f, 0x8b, ...b])),
          fc.tuple(fc.array(objArb, { maxLength: 5 }), fc.nat(), fc.nat(255)).map(([o, at, byte]) => {
            const b = Buffer.from(gzipSync(enc(encodeNdjson(o))));
            if (b.length > 0) b[at % b.length] = byte;
            return new Uint8Array(b);
          }),
          fc.string({ unit: fc.constantFrom('{', '}', '"', '\\', ' ', 'a', ':', ',', '1') }).map(enc),
        ),
        (bytes) => {
          const r = decodeObject(bytes, KEY);
          expect(Array.isArray(r.records)).toBe(true);
          if (r.error !== undefined) {
            expect(['empty', 'truncated_gzip', 'corrupt_gzip', 'not_json', 'truncated_json']).toContain(
              r.error.kind,
            );
            expect(r.error.key).toBe(KEY);
            expect(r.error.offset).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('JsonStreamDecoder', () => {
  it('gives the same records for any chunking, even inside strings and escapes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(objArb, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        (objs, cuts, nd) => {
          const text = nd ? encodeNdjson(objs) : objs.map((o) => JSON.stringify(o)).join('');
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const d = new JsonStreamDecoder(KEY);
          const got: unknown[] = [];
          let last = 0;
          for (const p of [...points, text.length]) {
            got.push(...d.push(text.slice(last, p)));
            last = p;
          }
          const end = d.end();
          expect(got).toEqual(JSON.parse(JSON.stringify(objs)));
          if (objs.length === 0) expect(end.error?.kind).toBe('empty');
          else expect(end.error).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps only the unfinished record in memory', () => {
    const d = new JsonStreamDecoder(KEY);
    const line = `${JSON.stringify({ pad: 'x'.repeat(1000) })}\n`;
    for (let i = 0; i < 1000; i++) expect(d.push(line)).toHaveLength(1);
    d.push('{"partial":');
    expect((d as unknown as { buf: string }).buf).toBe('{"partial":');
    expect(d.end().error).toMatchObject({ kind: 'truncated_json', offset: 1000 * line.length });
  });
});

describe('decodeObjectStream', () => {
  const text = encodeNdjson(Array.from({ length: 2000 }, (_, i) => ({ i, s: `r${i} "}{"` })));
  const expected = JSON.parse(`[${text.trim().split('\n').join(',')}]`);
  const chunk = (b: Uint8Array, size: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  };

  it.each([1, 7, 4096])('plain and gzipped, %i-byte chunks (multi-byte chars split too)', async (size) => {
    const withUnicode = `${text}{"u":"Café 東京 🍣"}`;
    const exp = [...expected, { u: 'Café 東京 🍣' }];
    expect(await streamDecode(chunk(enc(withUnicode), size))).toEqual({ count: exp.length, records: exp });
    expect(await streamDecode(chunk(gzipSync(enc(withUnicode)), size))).toEqual({
      count: exp.length,
      records: exp,
    });
  });

  it('empty stream → empty error', async () => {
    expect((await streamDecode([])).error?.kind).toBe('empty');
  });

  it('truncated gzip stream → truncated_gzip with the records before the cut', async () => {
    const gz = gzipSync(enc(text));
    const r = await streamDecode(chunk(gz.subarray(0, gz.length - 50), 1000));
    expect(r.error?.kind).toBe('truncated_gzip');
    expect(r.records.length).toBeGreaterThan(0);
    expect(r.records).toEqual(expected.slice(0, r.records.length));
  });

  it('corrupt gzip stream → corrupt_gzip, never hangs or throws', async () => {
    const gz = Buffer.from(gzipSync(enc(text)));
    for (let i = 2000; i < 2100; i++) gz[i] = (gz[i] as number) ^ 0x5a;
    const r = await streamDecode(chunk(gz, 512));
    expect(r.error?.kind).toBe('corrupt_gzip');
    expect(r.records.length).toBeGreaterThan(10);
    expect(r.records.slice(0, 10)).toEqual(expected.slice(0, 10));
  });

  it('not_json in a plain stream is skipped; the stream goes on after it', async () => {
    const r = await streamDecode([enc('{"a":1}\nxyz{"b":2}')]);
    expect(r).toMatchObject({
      count: 2,
      records: [{ a: 1 }, { b: 2 }],
      error: { kind: 'not_json', offset: 8, skipped: 1 },
    });
  });

  it('isGzip checks the magic bytes', () => {
    expect(isGzip(gzipSync(enc('x')))).toBe(true);
    expect(isGzip(enc('{}'))).toBe(false);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
  });
});

describe('resync after damage (Firehose concatenated JSON)', () => {
  const NOW = Date.UTC(2024, 0, 15, 10, 30);
  /** Realistic raw events, as the producer serializes them. */
  const events = (n: number, seed: number): string[] =>
    take(generateEvents({ seed, nowMs: NOW }), n).map((r) => recordData(r));
  const good = events(10, 5);
  const before = good.slice(0, 5);
  const after = good.slice(5);
  const parsed = good.map((t) => JSON.parse(t) as unknown);
  const chunk = (b: Uint8Array, size: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  };

  /** Decodes `text` every way there is: whole and streamed in `sizes`-byte chunks, plain and gzipped. */
  async function everyWay(text: string, sizes = [1, 7, 4096]) {
    const results = [decodeObject(enc(text), KEY), decodeObject(gzipSync(enc(text)), KEY)];
    for (const size of sizes) {
      for (const bytes of [enc(text), gzipSync(enc(text))]) {
        const r = await streamDecode(chunk(bytes, size));
        expect(r.count).toBe(r.records.length);
        results.push({ records: r.records, ...(r.error === undefined ? {} : { error: r.error }) });
      }
    }
    return results;
  }

  it.each([
    ['cut off after "amount": (no closing brace)', '{"transaction_id":"X","amount":'],
    ['closing brace but no value', '{"transaction_id":"X","amount":}'],
    ['invalid JSON', '{bad}'],
    ['cut off inside a string (quote parity flips)', '{"transaction_id":"X","merchant":"Ama'],
    ['cut off after a number', '{"transaction_id":"X","amount":12.5'],
    [
      '`{` inside a string of the broken record',
      '{"transaction_id":"X","merchant":"Caf{é} {\\"k\\":1} {}","amount":',
    ],
  ])('5 good + 1 malformed (%s) + 5 good → the 10 good records and one damage report', async (_, bad) => {
    for (const sep of ['', '\n']) {
      const text = [...before, bad, ...after].join(sep);
      for (const r of await everyWay(text)) {
        expect(r.records).toEqual(parsed);
        expect(r.error).toMatchObject({
          kind: 'not_json',
          key: KEY,
          offset: text.indexOf(bad),
          skipped: 1,
        });
        expect(r.error?.message).toContain('record 6 ');
      }
    }
  });

  it('counts each damaged stretch; the first one is the one described', () => {
    const bad1 = '{"transaction_id":"X","amount":';
    const bad2 = '{"transaction_id":"Y","merchant":"Sta';
    const text = [good[0], bad1, good[1], good[2], bad2, good[3]].join('');
    const r = decodeObject(enc(text), KEY);
    expect(r.records).toEqual([parsed[0], parsed[1], parsed[2], parsed[3]]);
    expect(r.error).toMatchObject({ kind: 'not_json', offset: text.indexOf(bad1), skipped: 2 });
    expect(r.error?.message).toMatch(
      /record 2 is cut off or corrupt .*; 1 more damaged stretch\(es\) skipped$/,
    );
  });

  it('a cut record does not make the decoder hold on to the rest of the object', () => {
    const d = new JsonStreamDecoder(KEY);
    // Records run together, as the old raw objects hold them (in newline-delimited objects the
    // first record would be a piece of the cut record's line: see the newline-delimited suite).
    const line = JSON.stringify({ pad: 'x'.repeat(100) });
    const got: unknown[] = [...d.push('{"transaction_id":"X","amount":')];
    for (let i = 0; i < 1000; i++) {
      got.push(...d.push(line));
      // At most the record being resynced onto and the one after it.
      expect((d as unknown as { buf: string }).buf.length).toBeLessThanOrEqual(2 * line.length);
    }
    const end = d.end();
    got.push(...end.records);
    expect(got).toHaveLength(1000);
    expect(end.error).toMatchObject({ kind: 'not_json', offset: 0, skipped: 1 });
  });

  it('a truncated tail that swallowed a whole record gives that record back (truncated_json)', () => {
    // `"b":` cut, and the next (last) record glued on parses as its nested value: only the end tells.
    const text = `${good[0]}{"transaction_id":"X","amount":${good[1]}`;
    const r = decodeObject(enc(text), KEY);
    expect(r.records).toEqual([parsed[0], parsed[1]]);
    expect(r.error).toMatchObject({ kind: 'truncated_json', offset: (good[0] as string).length, skipped: 1 });
  });

  it('truncated gzip keeps its error, and only the records before the cut', async () => {
    const text = events(3000, 9).join('');
    const gz = gzipSync(enc(text));
    const cut = gz.subarray(0, Math.floor(gz.length / 2));
    const all = text.match(/\{[^}]*\}/g)?.map((t) => JSON.parse(t) as unknown) ?? [];
    for (const r of [decodeObject(cut, KEY), await streamDecode(chunk(cut, 1000))]) {
      expect(r.error).toMatchObject({ kind: 'truncated_gzip', offset: cut.length });
      expect(r.records.length).toBeGreaterThan(100);
      expect(r.records).toEqual(all.slice(0, r.records.length));
    }
  });

  it('messages stay one line even when JSON.parse quotes a multi-line record', () => {
    const r = decodeObject(enc(`${good[0]}{"a":\n}${good[1]}`), KEY);
    expect(r.records).toEqual([parsed[0], parsed[1]]);
    expect(r.error?.message).toContain('record 2 is not valid JSON');
    expect(r.error?.message).not.toMatch(/[\n\r]/);
  });

  it('any one record cut anywhere, any separator, any chunking → exactly the other records (property)', async () => {
    const pool = events(12, 77);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 12 }),
        fc.nat(),
        fc.nat(),
        fc.constantFrom('', '\n', '\r\n', ' '),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (n, which, cutAt, sep, gz, cuts) => {
          const recsText = pool.slice(0, n);
          const k = which % n;
          const victim = recsText[k] as string;
          const bad = victim.slice(0, 1 + (cutAt % (victim.length - 1)));
          const parts = [...recsText.slice(0, k), bad, ...recsText.slice(k + 1)];
          const text = parts.join(sep);
          const expected = [...recsText.slice(0, k), ...recsText.slice(k + 1)].map((t) => JSON.parse(t));
          const bytes = gz ? gzipSync(enc(text)) : enc(text);
          const chunks = chunksAt(bytes, cuts);
          const offset = parts.slice(0, k).join(sep).length + (k > 0 ? sep.length : 0);
          for (const r of [decodeObject(bytes, KEY), await streamDecode(chunks)]) {
            expect(r.records).toEqual(expected);
            expect(r.error?.offset).toBe(offset);
            expect(['not_json', 'truncated_json']).toContain(r.error?.kind);
            expect(r.error?.skipped).toBe(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decodeObjectStream backpressure', () => {
  it('a large gzip object with many backpressure waits: exact count, no MaxListenersExceededWarning', async () => {
    // Hex noise compresses to about half: a ~1.2 MB gzip. 20 KiB chunks each overrun gunzip's
    // 16 KiB write buffer, so every write waits for 'drain' (~60 waits; 10 used to warn).
    const CHUNK = 20 * 1024;
    const rng = mulberry32(1);
    const n = 30_000;
    const text = encodeNdjson(
      Array.from({ length: n }, (_, i) => ({
        i,
        h: Array.from({ length: 8 }, () => Math.floor(rng() * 2 ** 32).toString(16)).join(''),
      })),
    );
    const gz = gzipSync(enc(text));
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < gz.length; i += CHUNK) {
        pulled++;
        // A real body yields between reads; let the gunzip side run.
        await new Promise<void>((r) => setImmediate(r));
        yield gz.subarray(i, i + CHUNK);
      }
    }
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      let count = 0;
      let lastI = -1;
      let ordered = true;
      const r = await decodeObjectStream(source(), KEY, (rs) => {
        for (const x of rs) {
          const i = (x as { i: number }).i;
          if (i !== lastI + 1) ordered = false;
          lastI = i;
        }
        count += rs.length;
      });
      // process.emitWarning delivers on process.nextTick, which runs before the next setImmediate.
      await new Promise<void>((res) => setImmediate(res));
      expect(r).toEqual({ count: n });
      expect(count).toBe(n);
      expect(ordered).toBe(true);
      expect(pulled).toBeGreaterThan(40);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('hostile objects: bounded memory and time', () => {
  const chunk = (b: Uint8Array, size: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
    return out;
  };
  it('a .gz key whose bytes are not gzip: read as text, but reported as not_gzip (never silently)', async () => {
    const key = `${KEY}.gz`;
    const text = encodeNdjson(recs);
    const one = decodeObject(enc(text), key);
    expect(one.records).toEqual(recs);
    expect(one.error).toMatchObject({ kind: 'not_gzip', key, offset: 0 });
    expect(one.error?.message).toBe(
      `${key}: the key ends in .gz but the object is not gzip (read as plain text)`,
    );
    const streamed = await streamDecode(chunk(enc(text), 5), key);
    expect(streamed.records).toEqual(recs);
    expect(streamed.error?.kind).toBe('not_gzip');
    // The same bytes gzipped, or plain under a key without .gz, are fine.
    expect(decodeObject(gzipSync(enc(text)), key).error).toBeUndefined();
    expect(decodeObject(enc(text), KEY).error).toBeUndefined();
  });

  it.each([
    ['a string', (n: number) => `{"id":"${'x'.repeat(n)}"}`],
    ['nested arrays', (n: number) => `{"a":${'['.repeat(n)}`],
    ['a number', (n: number) => `{"a":${'1'.repeat(n)}}`],
  ])(
    'a line longer than any record (%s) is record_too_large the moment it passes the limit, then skipped',
    (_, make) => {
      const limit = 1000;
      const d = new JsonStreamDecoder(KEY, limit);
      const got: unknown[] = [];
      got.push(...d.push('{"before":1}\n'));
      // 5 MB of the oversized line in 64 KiB chunks: each push must stay cheap and keep nothing.
      const line = make(5_000_000);
      const t0 = performance.now();
      for (let i = 0; i < line.length; i += 65_536) got.push(...d.push(line.slice(i, i + 65_536)));
      expect(d.error).toMatchObject({ kind: 'record_too_large', offset: 13 });
      expect(d.error?.message).toMatch(
        /record 2 is longer than 1000 characters \(no record can be\): skipped to the end of its line/,
      );
      got.push(...d.push('\n{"after":2}\n{"after":3}\n'));
      const end = d.end();
      got.push(...end.records);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(got).toEqual([{ before: 1 }, { after: 2 }, { after: 3 }]);
      expect(end.error).toMatchObject({ kind: 'record_too_large', skipped: 1 });
    },
  );

  it('the same in one push (the whole-object path) and through the stream decoder at the real limit', async () => {
    const big = `{"pad":"${'y'.repeat(MAX_RECORD_CHARS + 10)}"}`;
    const text = `{"a":1}\n${big}\n{"b":2}\n`;
    const one = decodeObject(enc(text), KEY);
    expect(one.records).toEqual([{ a: 1 }, { b: 2 }]);
    expect(one.error?.kind).toBe('record_too_large');
    const streamed = await streamDecode(chunk(gzipSync(enc(text)), 4096));
    expect(streamed.records).toEqual([{ a: 1 }, { b: 2 }]);
    expect(streamed.error?.kind).toBe('record_too_large');
    // A record of exactly the limit is a record.
    const max = `{"p":"${'z'.repeat(MAX_RECORD_CHARS - 10)}"}`;
    expect(max.length).toBeLessThanOrEqual(MAX_RECORD_CHARS);
    expect(decodeObject(enc(`${max}\n`), KEY).error).toBeUndefined();
  });
});

describe('the newline-delimited archive (Firehose appends a newline to every raw record)', () => {
  /**
   * One raw record as a client may put it: a valid JSON object (compact, or pretty-printed with
   * newlines of its own), nothing at all, a line of text that is not JSON, or a compact object
   * cut off anywhere. The archive holds each one followed by "\n".
   */
  type Raw = { kind: 'valid' | 'pretty'; value: Record<string, unknown> } | { kind: 'bad'; text: string };
  const rawArb: fc.Arbitrary<Raw> = fc.oneof(
    objArb.map((value) => ({ kind: 'valid' as const, value })),
    objArb.map((value) => ({ kind: 'pretty' as const, value })),
    fc.constant({ kind: 'bad' as const, text: '' }),
    fc
      .string({ unit: fc.constantFrom('a', ' ', '"', ':', ',', '1', 'é', '\\'), minLength: 1 })
      .map((text) => ({ kind: 'bad' as const, text })),
    fc
      .tuple(
        objArb.filter((o) => Object.keys(o).length > 0),
        fc.double({ min: 0, max: 1, noNaN: true }),
      )
      .map(([o, f]) => {
        const s = JSON.stringify(o);
        return { kind: 'bad' as const, text: s.slice(0, Math.max(1, Math.floor(f * (s.length - 1)))) };
      }),
  );
  const textOf = (r: Raw): string =>
    r.kind === 'bad'
      ? r.text
      : r.kind === 'valid'
        ? JSON.stringify(r.value)
        : JSON.stringify(r.value, null, 2);

  // Adversary: bad records next to each other (a non-JSON line after a cut one, garbage after
  // garbage). The old resync accepted a record after damage only when another record or the end
  // followed it, so `good\ngarbage\ngood\ngarbage\ngood` lost the middle event; in a
  // newline-delimited object a damaged record ends at its line, so every valid one is read.
  // Found by the property below: a record cut inside a string, at the end of its line, holding
  // `{}` — the resync took the `{}` for a record of its own.
  it('a value inside a damaged line is not a record, even at the end of the object', async () => {
    for (const text of ['{"":"{}\n', '{"a":"x{"b":1}\n{"c":2}\n', 'garbage{"b":1}\n']) {
      const expected = text.includes('"c"') ? [{ c: 2 }] : [];
      expect(decodeObject(gzipSync(text), `${KEY}.json.gz`).records).toEqual(expected);
      expect((await streamDecode([enc(text)])).records).toEqual(expected);
    }
  });

  it('reads every valid record, whatever bad records surround it (property, gzip, 1-byte to whole chunks)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rawArb, { maxLength: 12 }),
        fc.integer({ min: 1, max: 64 }),
        async (raws, chunk) => {
          const text = raws.map((r) => `${textOf(r)}\n`).join('');
          // What JSON can carry of each value (-0 is written as 0).
          const expected = raws.flatMap((r) =>
            r.kind === 'bad' ? [] : [JSON.parse(JSON.stringify(r.value))],
          );
          const whole = decodeObject(gzipSync(text), `${KEY}.json.gz`);
          expect(whole.records).toEqual(expected);
          if (raws.some((r) => r.kind === 'bad' && r.text.trim() !== '')) expect(whole.error).toBeDefined();
          const bytes = enc(text);
          const chunks: Uint8Array[] = [];
          for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
          expect((await streamDecode(chunks)).records).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the smallest case the old resync got wrong', () => {
    const r = decodeObject(enc('{"a":1}\nhello\n{"b":2}\nworld\n{"c":3}\n'), KEY);
    expect(r.records).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
    expect(r.error).toMatchObject({ kind: 'not_json', skipped: 2 });
  });

  it('the old format (records run together, no newline) reads as before', () => {
    const r = decodeObject(enc('{"a":1}{"b":2}{"c":3}'), KEY);
    expect(r.records).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
    expect(r.error).toBeUndefined();
  });
});

describe('small gzip objects read whole (sizeHint)', () => {
  const events = (n: number, seed: number): string[] =>
    take(generateEvents({ seed, nowMs: Date.UTC(2024, 0, 15, 10, 30) }), n).map((r) => recordData(r));
  // The adversary: damage anywhere in a small object, any chunking. Read whole, it must decode
  // exactly as the whole-bytes decoder does (records, error, offset), and with no gzip damage
  // exactly as the stream path does. (On a cut gzip the whole read salvages at least as much as the
  // stream path: inflate gets everything present at once.)
  it('same records and errors as decodeObject, and as the stream path unless the gzip is damaged (property)', async () => {
    const pool = events(20, 91);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('none', 'truncate', 'corrupt', 'cut-record'),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (n, damage, at, cuts) => {
          let text = `${pool.slice(0, n).join('\n')}\n`;
          if (damage === 'cut-record')
            text = text.slice(0, at % text.length) + text.slice((at % text.length) + 7);
          let bytes: Uint8Array = gzipSync(enc(text));
          if (damage === 'truncate') bytes = bytes.subarray(0, 10 + (at % (bytes.length - 10)));
          if (damage === 'corrupt') {
            bytes = Uint8Array.from(bytes);
            const i = 10 + (at % (bytes.length - 18));
            bytes[i] = (bytes[i] as number) ^ 0x5a;
          }
          const chunks = chunksAt(bytes, cuts);
          const whole = await streamDecode(chunks, `${KEY}.gz`, bytes.length);
          const reference = decodeObject(bytes, `${KEY}.gz`);
          expect(whole.records).toEqual(reference.records);
          expect(whole.error).toEqual(reference.error);
          expect(whole.count).toBe(reference.records.length);
          const streamed = await streamDecode(chunks, `${KEY}.gz`);
          expect(whole.error?.kind).toBe(streamed.error?.kind);
          if (streamed.error?.kind !== 'corrupt_gzip' && streamed.error?.kind !== 'truncated_gzip') {
            expect(whole.records).toEqual(streamed.records);
            expect(whole.error).toEqual(streamed.error);
          } else expect(whole.records.length).toBeGreaterThanOrEqual(streamed.records.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a small object that inflates past the whole-object limit (a gzip bomb) is streamed: every record, bounded', async () => {
    const line = `${JSON.stringify({ id: 'x'.repeat(80), n: 1 })}\n`;
    const text = line.repeat(Math.ceil((WHOLE_GZIP_MAX_OUTPUT * 1.5) / line.length));
    const bytes = gzipSync(enc(text), { level: 9 });
    expect(bytes.length).toBeLessThanOrEqual(WHOLE_GZIP_MAX_BYTES);
    let most = 0;
    let count = 0;
    const r = await decodeObjectStream(
      Readable.from([bytes]),
      `${KEY}.gz`,
      (rs) => {
        count += rs.length;
        most = Math.max(most, rs.length);
      },
      bytes.length,
    );
    expect(r.error).toBeUndefined();
    expect(count).toBe(text.length / line.length);
    // Streamed: records came in many small deliveries, never the whole inflated text at once.
    expect(most).toBeLessThan(count / 4);
  });

  it('an object larger than the listing said is streamed past the limit, not buffered', async () => {
    const text = `${pool4k()}`;
    const bytes = gzipSync(enc(text), { level: 0 });
    expect(bytes.length).toBeGreaterThan(WHOLE_GZIP_MAX_BYTES);
    const r = await streamDecode([bytes.subarray(0, 1000), bytes.subarray(1000)], `${KEY}.gz`, 10);
    expect(r.error).toBeUndefined();
    expect(r.records.length).toBe(text.split('\n').length - 1);
  });
});

/** ~400 KB of NDJSON (uncompressed gzip level 0 keeps it past WHOLE_GZIP_MAX_BYTES). */
const pool4k = (): string => {
  let t = '';
  for (let i = 0; t.length < 400_000; i++) t += `${JSON.stringify({ i, pad: 'p'.repeat(100) })}\n`;
  return t;
};
