/**
 * The compact reader (readCompactRecord, the aggregator's fast path) against the full validation
 * (validateRecordFull). The guarantee: for EVERY input the fast path either declines or accepts
 * with exactly the event the full path accepts; so validateRecord (fast, else full) answers exactly
 * as the full path does, rejections and their wording included.
 *
 * Adversaries: a producer (or attacker) writing records that are nearly the compact shape —
 * reordered keys, escaped spellings, Unicode and control characters, keys written twice, other
 * whitespace and line breaks, amounts past a double's digits or in exponent form, nested values,
 * invalid UTF-8 — and the aggregator's own reused buffer, which holds the previous record's bytes
 * past the end of the current one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CompactRecord,
  compactEvent,
  newCompactRecord,
  readCompactRecord,
  serializeEvent,
  type ValidationResult,
  validateRecord,
  validateRecordFull,
} from '../../src/domain/event.js';
import { generateEvents } from '../../src/domain/generator.js';

const ARRIVAL = 1_705_317_060_000;
const SKEW = 86_400_000;
const ctx = { arrivalMs: ARRIVAL, maxFutureSkewMs: SKEW };
const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');

let fastAccepted = 0;
let fastDeclined = 0;

/** The property: fast accepts ⇒ full accepts the same event; validateRecord ≡ validateRecordFull. */
function agree(b: Uint8Array): void {
  const rec = newCompactRecord();
  const full = validateRecordFull(b, ctx);
  if (readCompactRecord(b, b.byteLength, ARRIVAL, SKEW, rec)) {
    fastAccepted++;
    const fast = compactEvent(b, rec);
    expect(full.ok, `full path rejects what the fast path accepted: ${Buffer.from(b).toString()}`).toBe(true);
    const event = (full as Extract<ValidationResult, { ok: true }>).event;
    expect(fast).toEqual(event);
    // toEqual already tells -0 from 0; say so explicitly for the money.
    expect(Object.is(fast.amount, event.amount)).toBe(true);
    expect(Object.is(fast.amountMinor, event.amountMinor)).toBe(true);
  } else fastDeclined++;
  expect(validateRecord(b, ctx)).toEqual(full);
}

// ---- near-valid records ----------------------------------------------------------------------

const KEYS = ['transaction_id', 'amount', 'currency', 'merchant', 'event_timestamp'] as const;

/** JSON text of a string, sometimes with one character written as a \u escape. */
const jsonString = (s: string, escapeAt: number | null): string => {
  const q = JSON.stringify(s);
  if (escapeAt === null || s.length === 0) return q;
  const i = escapeAt % s.length;
  const c = s.charCodeAt(i);
  return (
    JSON.stringify(s.slice(0, i)).slice(0, -1) +
    `\\u${c.toString(16).padStart(4, '0')}` +
    JSON.stringify(s.slice(i + 1)).slice(1)
  );
};

/** null five times in six: each departure from the usual shape is rare, so some records stay valid. */
const rarely = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: a });

const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

/** Amount texts: plain decimals of every length, leading zeros, exponents, signs, huge, tiny. */
const amountText = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(digits(1, 8), fc.option(digits(0, 4)))
      .map(([i, f]) => (f === null ? i : `${i}.${f}`)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(digits(1, 20), fc.option(digits(0, 25)))
      .map(([i, f]) => (f === null ? i : `${i}.${f}`)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        digits(1, 4),
        fc.option(digits(1, 3)),
        fc.constantFrom('e', 'E'),
        fc.constantFrom('', '+', '-'),
        digits(1, 3),
      )
      .map(([i, f, e, s, x]) => `${i}${f === null ? '' : `.${f}`}${e}${s}${x}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '-0',
      '-0.0',
      '-1.5',
      '0',
      '0.0',
      '00',
      '01',
      '1.',
      '.5',
      '1e400',
      '1e-400',
      '9007199254740993',
      '0.1000000000000000000001',
      '10000000000',
      '10000000000.01',
      '9999999999.99',
      '999999999999999',
      '1000000000000000',
      '"12.50"',
      'null',
      'true',
      '[1]',
      '{"v":1}',
      '12.50 ',
      'NaN',
      'Infinity',
      '0x10',
      '+1',
    ),
  },
);

/** Timestamp texts: whole ms around the accepted range, fractions, exponents, other types. */
const timestampText = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: ARRIVAL - 3_600_000, max: ARRIVAL + SKEW }).map(String) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '946684800000',
      '946684799999',
      String(ARRIVAL + SKEW),
      String(ARRIVAL + SKEW + 1),
      '1705317000000.0',
      '1705317000000.5',
      '1.705317e12',
      '-1705317000000',
      '1705317000',
      '"1705317000000"',
      '17053170000000000000',
      '0',
    ),
  },
);

const plainText = fc.string({ unit: fc.constantFrom(..."ABCXYZ019 _-.'&#"), maxLength: 70 });
const nastyText = fc.oneof(
  { weight: 8, arbitrary: plainText },
  fc.string({ maxLength: 140 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom(
      ' ',
      '\t',
      '\n',
      '\r',
      '\u00a0',
      '\u0085',
      '\u2028',
      '\u3000',
      '\ufeff',
      '\u007f',
      '\u0000',
      'A',
      'é',
      '🍣',
      '"',
      '\\',
      '/',
    ),
    maxLength: 12,
  }),
  fc.constantFrom(
    '',
    ' ',
    '   ',
    'M'.repeat(128),
    'M'.repeat(129),
    'T'.repeat(64),
    'T'.repeat(65),
    ' '.repeat(64),
  ),
);
const currencyText = fc.oneof(
  fc.constantFrom(
    'USD',
    'JPY',
    'BHD',
    'CLF',
    'EUR',
    'usd',
    'US',
    'USDX',
    'XAU',
    'ZZZ',
    'U\u0053D',
    '__proto__',
  ),
  fc.string({ unit: fc.constantFrom(...'ABCDEUSJPYZ'), minLength: 3, maxLength: 3 }),
);

/** A value the full path accepts for the field (currencies with at least two decimals). */
const validValue = (key: (typeof KEYS)[number]): fc.Arbitrary<string> => {
  switch (key) {
    case 'transaction_id':
      return fc
        .string({ unit: fc.constantFrom(...'TXN0123456789-_ '), minLength: 1, maxLength: 64 })
        .map((s) => JSON.stringify(`T${s}`.slice(0, 64)));
    case 'merchant':
      return fc
        .string({ unit: fc.constantFrom(..."Amazon McDonald's &#!~"), minLength: 1, maxLength: 128 })
        .map((s) => JSON.stringify(`M${s}`.slice(0, 128)));
    case 'currency':
      return fc.constantFrom('"USD"', '"EUR"', '"BHD"', '"CLF"', '"KWD"');
    case 'amount':
      return fc
        .tuple(digits(1, 9), fc.option(digits(1, 2)))
        .map(([i, f]) => `${i.replace(/^0+(?=.)/, '')}${f === null ? '' : `.${f}`}`);
    case 'event_timestamp':
      return fc.integer({ min: ARRIVAL - 3_600_000, max: ARRIVAL + SKEW }).map(String);
  }
};

/** A member's value: a valid one most of the time, the field's odd cases or any JSON sometimes. */
const valueFor = (key: (typeof KEYS)[number]) =>
  fc.oneof(
    { weight: 30, arbitrary: validValue(key) },
    {
      weight: 2,
      arbitrary:
        key === 'amount'
          ? amountText
          : key === 'event_timestamp'
            ? timestampText
            : fc
                .tuple(key === 'currency' ? currencyText : nastyText, rarely(fc.nat()))
                .map(([s, e]) => jsonString(s, e)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
  );

const ws = fc.oneof(
  { weight: 10, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.constant(' ') },
  { weight: 1, arbitrary: fc.constantFrom('  ', '\t', '\n', '\r', '\r\n', ' \n ') },
);

/** The key as written: usually plain, sometimes escaped, mis-cased or another key entirely. */
const keyText = (key: string) =>
  fc.oneof(
    { weight: 30, arbitrary: fc.constant(JSON.stringify(key)) },
    { weight: 1, arbitrary: fc.nat().map((i) => jsonString(key, i)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `"${key.toUpperCase()}"`,
        `"${key} "`,
        `"${key}x"`,
        `"${key.slice(0, -1)}"`,
        '"extra"',
        '"__proto__"',
        '""',
      ),
    },
  );

const member = (key: (typeof KEYS)[number]) =>
  fc.tuple(keyText(key), ws, ws, valueFor(key), ws).map(([k, a, b, v, c]) => `${k}${a}:${b}${v}${c}`);

const nearValid = fc
  .tuple(
    fc.oneof(
      { weight: 5, arbitrary: fc.constant([...KEYS]) },
      { weight: 1, arbitrary: fc.shuffledSubarray([...KEYS], { minLength: 4, maxLength: 5 }) },
    ),
    fc.boolean(),
    fc.oneof(
      { weight: 5, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 2 }) },
    ),
    rarely(fc.tuple(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }))),
    ws,
    ws,
  )
  .chain(([keys, shuffle, dups, extra, lead, trail]) => {
    const order = shuffle ? keys : KEYS.filter((k) => keys.includes(k));
    const all = [...order, ...dups];
    return fc.tuple(fc.tuple(...all.map(member)), fc.nat()).map(([members, at]) => {
      const ms = [...members];
      if (extra !== null)
        ms.splice(at % (ms.length + 1), 0, `${JSON.stringify(extra[0])}:${JSON.stringify(extra[1])}`);
      return `${lead}{${ms.join(',')}}${trail}`;
    });
  });

/** A record the full path accepts, as the producer writes it. */
const compactValid = fc
  .record({
    transaction_id: fc.string({
      unit: fc.constantFrom(...'TXN0123456789abcdef-_'),
      minLength: 1,
      maxLength: 64,
    }),
    amount: fc
      .tuple(fc.nat(99_999_999), fc.nat(99))
      .map(([u, c]) => Number(`${u}.${String(c).padStart(2, '0')}`)),
    currency: fc.constantFrom('USD', 'EUR', 'GBP', 'AUD'),
    merchant: fc.constantFrom('Amazon', "McDonald's", 'A & B', 'x'.repeat(128)),
    event_timestamp: fc.integer({ min: ARRIVAL - 3_600_000, max: ARRIVAL }),
  })
  .map((e) => serializeEvent(e));

/** Bytes of a valid record with some bytes replaced, removed or inserted. */
const damaged = fc
  .tuple(
    compactValid,
    fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'cut', 'insert')), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([text, edits]) => {
    const b = [...enc(text)];
    for (const [at, byte, op] of edits) {
      const i = at % (b.length + 1);
      if (op === 'set' && i < b.length) b[i] = byte;
      else if (op === 'cut') b.splice(i, 1);
      else b.splice(i, 0, byte);
    }
    return new Uint8Array(b);
  });

describe('the compact reader agrees with the full validation (fast-check)', () => {
  it('on near-valid records: reordered, escaped, Unicode, duplicated, spaced, odd amounts and timestamps, nested', () => {
    fastAccepted = 0;
    fastDeclined = 0;
    fc.assert(
      fc.property(nearValid, (t) => agree(enc(t))),
      { numRuns: 4000 },
    );
    // Not vacuous: both sides of the property were exercised.
    expect(fastAccepted).toBeGreaterThan(250);
    expect(fastDeclined).toBeGreaterThan(250);
  });

  it('on arbitrary bytes and arbitrary JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.jsonValue().map((v) => enc(JSON.stringify(v) ?? 'null')),
          fc.string({ unit: 'binary' }).map(enc),
        ),
        agree,
      ),
      { numRuns: 2000 },
    );
  });

  it('on valid compact records with bytes flipped, cut or inserted (invalid UTF-8, control bytes, broken syntax)', () => {
    fastAccepted = 0;
    fc.assert(fc.property(damaged, agree), { numRuns: 3000 });
    // Some damage keeps the record valid (a digit for a digit): the fast path still takes those.
    expect(fastAccepted).toBeGreaterThan(0);
  });

  it('accepts every valid compact record (the fast path is the common path)', () => {
    fc.assert(
      fc.property(compactValid, (t) => {
        const rec = newCompactRecord();
        expect(readCompactRecord(enc(t), enc(t).byteLength, ARRIVAL, SKEW, rec)).toBe(true);
        agree(enc(t));
      }),
      { numRuns: 1000 },
    );
  });

  it('takes the records the producer writes (the generator’s), with the full path’s values', () => {
    let n = 0;
    for (const r of generateEvents({ seed: 7, nowMs: ARRIVAL, spanMs: 60_000 })) {
      if (r.kind !== 'event') continue;
      const b = enc(serializeEvent(r.event));
      expect(readCompactRecord(b, b.byteLength, ARRIVAL, SKEW, newCompactRecord())).toBe(true);
      agree(b);
      if (++n === 2000) break;
    }
    expect(n).toBe(2000);
  });

  it('reads only bytes [0, n): whatever a reused buffer holds past the record changes nothing', () => {
    fc.assert(
      fc.property(
        fc.oneof(nearValid.map(enc), damaged),
        fc.oneof(compactValid.map(enc), fc.uint8Array({ minLength: 1, maxLength: 40 })),
        (b, tail) => {
          // The buffer as the aggregator's scratch leaves it: this record, then a previous one's bytes.
          const buf = new Uint8Array(b.byteLength + tail.byteLength);
          buf.set(b);
          buf.set(tail, b.byteLength);
          const exact = newCompactRecord();
          const over = newCompactRecord();
          const a = readCompactRecord(b, b.byteLength, ARRIVAL, SKEW, exact);
          expect(readCompactRecord(buf, b.byteLength, ARRIVAL, SKEW, over)).toBe(a);
          if (a) expect(compactEvent(buf, over)).toEqual(compactEvent(b, exact));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never takes a record holding a line break (LF or CR) or any other control byte, wherever it is', () => {
    fc.assert(
      fc.property(compactValid, fc.nat(), fc.constantFrom(10, 13, 9, 0, 12, 31, 127), (t, at, byte) => {
        const b = [...enc(t)];
        b.splice(at % (b.length + 1), 0, byte);
        const data = new Uint8Array(b);
        expect(readCompactRecord(data, data.byteLength, ARRIVAL, SKEW, newCompactRecord())).toBe(false);
        agree(data);
      }),
      { numRuns: 2000 },
    );
  });

  it('cut records inside a buffer whose tail completes them are still declined', () => {
    const whole = enc(
      serializeEvent({
        transaction_id: 'T1',
        amount: 1.5,
        currency: 'USD',
        merchant: 'M',
        event_timestamp: ARRIVAL,
      }),
    );
    for (let n = 0; n < whole.byteLength; n++) {
      expect(readCompactRecord(whole, n, ARRIVAL, SKEW, newCompactRecord()), `cut at ${n}`).toBe(false);
    }
    expect(readCompactRecord(whole, whole.byteLength, ARRIVAL, SKEW, newCompactRecord())).toBe(true);
  });
});

describe('the compact reader declines (the full path decides) where the shape is not the usual one', () => {
  const base = {
    transaction_id: 'TXN1',
    amount: 12.5,
    currency: 'USD',
    merchant: 'Amazon',
    event_timestamp: ARRIVAL - 1000,
  };
  const takes = (t: string): boolean =>
    readCompactRecord(enc(t), enc(t).byteLength, ARRIVAL, SKEW, newCompactRecord() as CompactRecord);
  const cases: [string, string][] = [
    ['pretty-printed over lines', JSON.stringify(base, null, 2)],
    ['a \\r line break', serializeEvent(base).replace(',', ',\r')],
    ['a tab', serializeEvent(base).replace(',', ',\t')],
    ['an escaped key', serializeEvent(base).replace('"amount"', '"am\\u006funt"')],
    ['a key written twice', serializeEvent(base).replace('{', '{"amount":999,')],
    ['an extra key', serializeEvent(base).replace('{', '{"note":"x",')],
    ['an escape in the merchant', serializeEvent({ ...base, merchant: 'A\\B' })],
    ['a non-ASCII merchant', serializeEvent({ ...base, merchant: 'Café' })],
    ['an exponent amount', serializeEvent(base).replace('12.5', '1.25e1')],
    ['an amount past a double’s digits', serializeEvent(base).replace('12.5', '0.1000000000000000000001')],
    ['a negative zero amount', serializeEvent(base).replace('12.5', '-0')],
    ['too many decimals', serializeEvent({ ...base, amount: 1.234 })],
    ['an unknown currency', serializeEvent({ ...base, currency: 'XAU' })],
    ['a fractional timestamp', serializeEvent(base).replace(String(ARRIVAL - 1000), `${ARRIVAL - 1000}.0`)],
    ['a blank id', serializeEvent({ ...base, transaction_id: '   ' })],
  ];
  it.each(cases)('%s', (_name, t) => {
    expect(takes(t)).toBe(false);
    agree(enc(t));
  });
  it('and takes the usual record with spaces after separators (as Python writes JSON)', () => {
    const t =
      '{"transaction_id": "TXN1", "amount": 12.50, "currency": "USD", "merchant": "Amazon", "event_timestamp": 1705317059000}';
    expect(takes(t)).toBe(true);
    agree(enc(t));
  });
});
