/**
 * Bad input at the unit level: every fixture gives exactly the manifest's reason from the same
 * validateRecord the aggregator runs, and fast-check fuzzing of the pieces that read untrusted
 * bytes and are not fuzzed in test/domain (validateRecord itself, decodeObjectStream with
 * arbitrary chunking, parseAggregate) finds no throw and no result outside the contract.
 * (decodeObject over arbitrary bytes and JsonStreamDecoder chunking are fuzzed in
 * test/pipeline/codec.test.ts already.)
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateBatch, BatchAggregator, parseAggregate } from '../../src/domain/aggregate.js';
import { renderBatchOutput } from '../../src/domain/batch-output.js';
import { mergeRecords } from '../../src/domain/exact-merge.js';
import { decodeObject, decodeObjectStream, encodeNdjson } from '../../src/pipeline/codec.js';
import { currencyExponent } from '../../src/domain/currency.js';
import {
  MAX_MERCHANT_LENGTH,
  MAX_TRANSACTION_ID_LENGTH,
  MIN_EVENT_TIMESTAMP_MS,
  type PaymentEvent,
  REJECT_REASONS,
  serializeEvent,
  validateRecord,
} from '../../src/domain/event.js';
import { MAX_AMOUNT_MINOR } from '../../src/domain/money.js';
import { BAD_INPUTS, fixtureBytes, fixtureFiles } from './manifest.js';

const SKEW = 86_400_000;
const ctx = () => ({ arrivalMs: Date.now(), maxFutureSkewMs: SKEW });

describe('the fixture manifest', () => {
  it('lists every fixture file exactly once, and every listed file exists', () => {
    const listed = BAD_INPUTS.map((b) => b.file);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(fixtureFiles());
  });

  it('has at least 40 kinds of malformed event, each with distinct bytes (so the pipeline can match them)', () => {
    expect(BAD_INPUTS.filter((b) => b.reason !== null).length).toBeGreaterThanOrEqual(40);
    const contents = BAD_INPUTS.map((b) => fixtureBytes(b.file).toString('base64'));
    expect(new Set(contents).size).toBe(contents.length);
  });

  it('covers every per-record reject reason (total_overflow is per window: see pipeline.test.ts)', () => {
    const covered = new Set(BAD_INPUTS.map((b) => b.reason));
    expect(REJECT_REASONS.filter((r) => !covered.has(r))).toEqual(['total_overflow']);
  });
});

describe('validateRecord on every fixture', () => {
  it.each(BAD_INPUTS.map((b) => [b.file, b.reason, b.why] as const))('%s → %s (%s)', (file, reason) => {
    const r = validateRecord(fixtureBytes(file), ctx());
    if (reason === null) {
      expect(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`).toBe(true);
      return;
    }
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(reason);
    // Details land in logs and dead-letter lines: one short line whatever the record holds.
    expect(r.detail).not.toMatch(/[\r\n]/);
    expect(r.detail.length).toBeLessThan(200);
  });

  it('the accepted edge cases keep exact amounts (-0 is 0, 1.5e2 is 150.00)', () => {
    const minor = (file: string): number | undefined => {
      const r = validateRecord(fixtureBytes(file), ctx());
      return r.ok ? r.event.amountMinor : undefined;
    };
    expect(minor('edge-negative-zero-amount.json')).toBe(0);
    expect(Object.is(minor('edge-negative-zero-amount.json'), -0)).toBe(false);
    expect(minor('edge-exponent-amount.json')).toBe(15_000);
    expect(minor('edge-bom-prefixed.json')).toBe(101);
    expect(minor('edge-surrounding-spaces-tabs.json')).toBe(3);
  });
});

/** The contract of an accepted event: what the aggregator relies on without re-checking. */
function expectSane(e: PaymentEvent, arrivalMs: number): void {
  const exp = currencyExponent(e.currency);
  expect(exp).toBeTypeOf('number');
  expect(Number.isSafeInteger(e.amountMinor)).toBe(true);
  expect(e.amountMinor).toBeGreaterThanOrEqual(0);
  expect(e.amountMinor).toBeLessThanOrEqual(MAX_AMOUNT_MINOR);
  expect(Number.isInteger(e.event_timestamp)).toBe(true);
  expect(e.event_timestamp).toBeGreaterThanOrEqual(MIN_EVENT_TIMESTAMP_MS);
  expect(e.event_timestamp).toBeLessThanOrEqual(arrivalMs + SKEW);
  // Not blank in the validator's sense (space, tab, CR, LF, NBSP, BOM, ideographic space).
  const blank = ' \t\r\n\u00a0\ufeff\u3000';
  expect([...e.transaction_id].some((c) => !blank.includes(c))).toBe(true);
  expect([...e.merchant].some((c) => !blank.includes(c))).toBe(true);
  expect(e.transaction_id.length).toBeLessThanOrEqual(MAX_TRANSACTION_ID_LENGTH);
  expect(e.merchant.length).toBeLessThanOrEqual(MAX_MERCHANT_LENGTH);
  // Re-serialized, it is accepted again with the same exact amount (what send and replay do).
  const again = validateRecord(Buffer.from(serializeEvent(e)), { arrivalMs, maxFutureSkewMs: SKEW });
  expect(again.ok && again.event.amountMinor).toBe(e.amountMinor);
}

function expectWellFormed(data: Uint8Array): void {
  const arrivalMs = 1_705_317_060_000;
  const r = validateRecord(data, { arrivalMs, maxFutureSkewMs: SKEW });
  if (r.ok) {
    expectSane(r.event, arrivalMs);
    // The raw archive holds one record per line: a counted record must be one line to every reader.
    expect(Buffer.from(data).includes(10) || Buffer.from(data).includes(13)).toBe(false);
  } else {
    expect(REJECT_REASONS).toContain(r.reason);
    expect(r.reason).not.toBe('total_overflow');
    expect(r.detail.length).toBeLessThan(200);
  }
}

/** Any control character (newline, NUL, ESC…) in a detail breaks "one line" in logs and terminals. */
const CONTROL = /[\u0000-\u001f\u007f]/;

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const base = {
  transaction_id: 'TXN1',
  amount: 12.5,
  currency: 'USD',
  merchant: 'Amazon',
  event_timestamp: 1_705_317_000_000,
};
/** Values that stress each check: odd numbers, odd strings, wrong types. */
const nastyValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 2 ** 53, Number.MAX_VALUE, 946_684_800_000, 1_705_317_000_000),
  fc.string(),
  fc.string({ unit: fc.constantFrom(' ', '\t', '\u00a0', '\u3000', '\ufeff', 'A', 'é', '🍣') }),
  fc.constantFrom('USD', 'usd', 'JPY', 'BHD', 'CLF', 'XAU', '__proto__', 'constructor', 'hasOwnProperty'),
  fc.jsonValue(),
);

describe('validateRecord fuzz (fast-check): never throws, always a known reason or a sane event', () => {
  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => expectWellFormed(b)),
      { numRuns: 2000 },
    );
  });

  // KNOWN BUG (src/domain/event.ts): a not_json detail quotes JSON.parse's message, which quotes the
  // record, so bytes [0x0a, 0x00] give a detail with a raw newline and a NUL. `it.fails` keeps the
  // suite green while the bug stands and turns red once it is fixed: then make this a plain `it`.
  it('details are one printable line whatever the bytes', () => {
    const repro = validateRecord(new Uint8Array([0x0a, 0x00]), { arrivalMs: 0, maxFutureSkewMs: 0 });
    expect(!repro.ok && repro.detail).not.toMatch(CONTROL);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 50 }), (b) => {
        const r = validateRecord(b, { arrivalMs: 1_705_317_060_000, maxFutureSkewMs: SKEW });
        if (!r.ok) expect(r.detail).not.toMatch(CONTROL);
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary JSON values, and arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((v) => enc(JSON.stringify(v) ?? 'null')),
          fc.string({ unit: 'binary' }).map(enc),
        ),
        (b) => expectWellFormed(b),
      ),
      { numRuns: 1500 },
    );
  });

  it('a valid event with fields replaced, dropped or added by arbitrary values', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(...Object.keys(base), '__proto__', 'extra'),
          fc.option(nastyValue, { nil: undefined }),
        ),
        (over) => {
          const o: Record<string, unknown> = { ...base };
          for (const [k, v] of Object.entries(over)) {
            if (v === undefined) delete o[k];
            else o[k] = v;
          }
          expectWellFormed(enc(JSON.stringify(o)));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a valid event with bytes flipped, cut or inserted anywhere', () => {
    const valid = enc(JSON.stringify(base));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'cut', 'insert')), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          let b = Buffer.from(valid);
          for (const [at, byte, op] of edits) {
            const i = at % (b.length + 1);
            if (op === 'cut') b = b.subarray(0, i);
            else if (op === 'insert')
              b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
            else if (b.length > 0) b[i % b.length] = byte;
          }
          expectWellFormed(b);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('line breaks (fast-check): a record the archive would split is never counted', () => {
  const event = fc.record({
    transaction_id: fc.string({
      minLength: 1,
      maxLength: 20,
      unit: fc.constantFrom('T', 'X', '9', 'é', '東'),
    }),
    amount: fc.integer({ min: 0, max: 1_000_000 }).map((c) => c / 100),
    currency: fc.constantFrom('USD', 'EUR', 'BHD'),
    merchant: fc
      .string({ maxLength: 30, unit: fc.constantFrom('A', 'b', ' ', 'é', '🍣') })
      .map((m) => `M${m}`),
    event_timestamp: fc.integer({ min: 1_705_000_000_000, max: 1_705_317_000_000 }),
  });
  const lineEnd = fc.constantFrom('\n', '\r', '\r\n');
  const arrivalMs = 1_705_317_060_000;
  /** Byte position (1-based) of the first CR or LF, as the detail must name it. */
  const firstBreakByte = (b: Buffer): number => {
    const lf = b.indexOf(10);
    const cr = b.indexOf(13);
    return Math.min(lf === -1 ? Number.POSITIVE_INFINITY : lf, cr === -1 ? Number.POSITIVE_INFINITY : cr) + 1;
  };

  it('pretty-printed valid events (any indent, LF, CR or CRLF) are line_break, naming the first break', () => {
    fc.assert(
      fc.property(event, fc.integer({ min: 0, max: 8 }), lineEnd, (e, indent, eol) => {
        const text = JSON.stringify(e, null, indent === 0 ? '\t' : indent).replace(/\n/g, eol);
        const data = Buffer.from(text);
        const r = validateRecord(data, { arrivalMs, maxFutureSkewMs: SKEW });
        expect(r.ok ? 'counted' : r.reason).toBe('line_break');
        if (!r.ok) expect(r.detail).toContain(`at byte ${firstBreakByte(data)})`);
        // The same event, compact, is counted: only the line breaks decide.
        expect(validateRecord(Buffer.from(JSON.stringify(e)), { arrivalMs, maxFutureSkewMs: SKEW }).ok).toBe(
          true,
        );
      }),
      { numRuns: 500 },
    );
  });

  it('a line break anywhere in a valid event (between tokens or inside a string) is line_break', () => {
    fc.assert(
      fc.property(event, fc.nat(), lineEnd, (e, at, eol) => {
        const compact = JSON.stringify(e);
        const i = at % (compact.length + 1);
        const data = Buffer.from(compact.slice(0, i) + eol + compact.slice(i));
        const r = validateRecord(data, { arrivalMs, maxFutureSkewMs: SKEW });
        expect(r.ok ? 'counted' : r.reason).toBe('line_break');
        if (!r.ok) expect(r.detail).toContain(`at byte ${firstBreakByte(data)})`);
      }),
      { numRuns: 500 },
    );
  });
});

const KEY = 'aggregations/year=2024/month=01/day=15/hour=10/fuzz';
const KINDS = ['empty', 'truncated_gzip', 'corrupt_gzip', 'not_json', 'truncated_json'];

/** Splits bytes at the given cut points (mod length) into a chunk stream. */
function chunked(bytes: Uint8Array, cuts: number[]): Readable {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) parts.push(bytes.subarray(last, p));
    last = p;
  }
  return Readable.from(parts);
}

async function streamDecode(bytes: Uint8Array, cuts: number[]) {
  const got: unknown[] = [];
  const r = await decodeObjectStream(chunked(bytes, cuts), KEY, (rs) => {
    got.push(...rs);
  });
  return { ...r, records: got };
}

describe('decodeObjectStream fuzz (fast-check): any bytes, any chunking', () => {
  const objs = fc.array(
    fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer(), fc.boolean()), {
      maxKeys: 4,
    }),
    { maxLength: 12 },
  );

  it('never throws or hangs; the count matches the records delivered; errors are typed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0x1f, 0x8b, ...b])),
          fc.tuple(objs, fc.nat(), fc.nat(255)).map(([o, at, byte]) => {
            const b = Buffer.from(gzipSync(enc(encodeNdjson(o))));
            if (b.length > 0) b[at % b.length] = byte;
            return new Uint8Array(b);
          }),
          fc.tuple(objs, fc.nat()).map(([o, cut]) => {
            const b = gzipSync(enc(encodeNdjson(o)));
            return b.subarray(0, cut % (b.length + 1));
          }),
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (bytes, cuts) => {
          const r = await streamDecode(bytes, cuts);
          expect(r.count).toBe(r.records.length);
          if (r.error !== undefined) {
            expect(KINDS).toContain(r.error.kind);
            expect(r.error.key).toBe(KEY);
            expect(r.error.offset).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  // DecodeError.message is documented as one line; it once quoted JSON.parse's message, which
  // quotes the record (`{"a":\n<}` gave a two-line message that `results` printed as a warning).
  it('error messages are one printable line, whatever the record holds', async () => {
    expect(decodeObject(enc('{"a":\n<}'), KEY).error?.message).not.toMatch(CONTROL);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom('{', '}', '"', ':', '\n', '\u0000', '<', 'a', '1') }),
        fc.array(fc.nat(), { maxLength: 4 }),
        async (s, cuts) => {
          const r = await streamDecode(enc(s), cuts);
          if (r.error !== undefined) expect(r.error.message).not.toMatch(CONTROL);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('undamaged objects decode to the same records as the one-shot decoder, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(objs, fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), async (o, gz, cuts) => {
        const text = enc(encodeNdjson(o));
        const bytes = gz ? gzipSync(text) : text;
        const one = decodeObject(bytes, KEY);
        const r = await streamDecode(bytes, cuts);
        expect(r.records).toEqual(one.records);
        expect(r.error?.kind).toBe(one.error?.kind);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseAggregate fuzz (fast-check): what results reads from S3 is untrusted too', () => {
  const good = aggregateBatch(
    [
      { ...base, amountMinor: 1250 },
      { ...base, transaction_id: 'TXN2', amount: 0.01, amountMinor: 1 },
    ],
    60_000,
    { shardId: 'shardId-000000000000', firstSequenceNumber: '1', lastSequenceNumber: '2' },
  ).aggregates[0];

  it('never throws; accepted aggregates are internally sane; merging any mix of them never throws', () => {
    expect(good).toBeDefined();
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.jsonValue(),
            fc
              .dictionary(
                fc.constantFrom(...Object.keys(good ?? {})),
                fc.option(nastyValue, { nil: undefined }),
              )
              .map((over) => {
                const o: Record<string, unknown> = { ...good };
                for (const [k, v] of Object.entries(over)) {
                  if (v === undefined) delete o[k];
                  else o[k] = v;
                }
                return o;
              }),
          ),
          { maxLength: 8 },
        ),
        (values) => {
          const ok = [];
          for (const v of values) {
            const p = parseAggregate(v);
            if (!p.ok) {
              expect(p.detail).toBeTypeOf('string');
              continue;
            }
            expect(Number.isSafeInteger(p.totals.count) && p.totals.count >= 1).toBe(true);
            expect(p.totals.minMinor).toBeLessThanOrEqual(p.totals.maxMinor);
            expect(p.windowEndMs).toBeGreaterThan(p.windowStartMs);
            ok.push(p.aggregate);
          }
          const m = mergeRecords(ok);
          expect(m.aggregates.length).toBeLessThanOrEqual(ok.length);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('batch output fuzz (fast-check): tampered, truncated or foreign batch outputs', () => {
  const acc = new BatchAggregator(60_000);
  for (let i = 0; i < 30; i++) {
    acc.add({
      ...base,
      transaction_id: `T${i}`,
      currency: ['USD', 'JPY', 'BHD'][i % 3] as string,
      amountMinor: 100 + i,
      event_timestamp: base.event_timestamp + i * 60_000,
    });
  }
  const parts = renderBatchOutput(
    { shardId: 'shardId-000000000000', firstSequenceNumber: '100', lastSequenceNumber: '200' },
    30,
    acc.cells(),
    60_000,
    1500,
  ).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('never throws, never counts more than the untampered output holds, and any tampering is reported', () => {
    expect(parts.length).toBeGreaterThan(2);
    const keys = Object.keys(parts[0] ?? {});
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            part: fc.nat({ max: parts.length - 1 }),
            over: fc.dictionary(fc.constantFrom(...keys), fc.option(nastyValue, { nil: undefined }), {
              maxKeys: 2,
            }),
          }),
          { maxLength: 6 },
        ),
        fc.boolean(),
        (edits, allParts) => {
          const recs: unknown[] = allParts ? parts.map((p) => ({ ...p })) : [];
          for (const e of edits) {
            const o: Record<string, unknown> = { ...parts[e.part] };
            for (const [k, v] of Object.entries(e.over)) {
              if (v === undefined) delete o[k];
              else o[k] = v;
            }
            recs.push(o);
          }
          const m = mergeRecords(recs);
          const count = m.cells.reduce((s, c) => s + c.totals.count, 0);
          expect(count === 0 || count === 30).toBe(true);
          if (count === 30) expect(m.stats.batchOutputs.counted).toBe(1);
          for (const i of m.issues) expect(i.message).not.toMatch(/[\u0000-\u001f]/);
        },
      ),
      { numRuns: 500 },
    );
  });
});
