import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURRENCY_CODES, currencyExponent, isCurrency } from '../../src/domain/currency.js';
import {
  addMinor,
  averageMinor,
  formatMinor,
  fromMinor,
  MAX_AMOUNT_MINOR,
  MAX_TOTAL_MINOR,
  minorOrNegative,
  toMinor,
  toMinorFromText,
} from '../../src/domain/money.js';

describe('currency table', () => {
  it.each([
    ['JPY', 0],
    ['KRW', 0],
    ['USD', 2],
    ['EUR', 2],
    ['AUD', 2],
    ['BHD', 3],
    ['KWD', 3],
    ['TND', 3],
    ['CLF', 4],
    ['UYW', 4],
  ])('%s has %i decimals', (code, exp) => {
    expect(currencyExponent(code)).toBe(exp);
  });

  it.each(['usd', 'XAU', 'XXX', 'ABC', '', 'constructor', 'USD '])('%j is not a payment currency', (code) => {
    expect(isCurrency(code)).toBe(false);
    expect(currencyExponent(code)).toBeUndefined();
  });

  it('has every active code as three upper-case letters, sorted, no duplicates', () => {
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
    for (const c of CURRENCY_CODES) expect(c).toMatch(/^[A-Z]{3}$/);
    expect([...CURRENCY_CODES].sort()).toEqual(CURRENCY_CODES);
  });
});

describe('toMinor', () => {
  it.each([
    // amount, exponent, minor
    [125.5, 2, 12550],
    [0.1, 2, 10],
    [0.07, 2, 7],
    [1.15, 2, 115],
    [4.35, 2, 435],
    [1234.56, 2, 123456],
    [0, 2, 0],
    [-0, 2, 0],
    [12, 2, 1200],
    [1500, 0, 1500],
    [1.234, 3, 1234],
    [0.005, 3, 5],
    [0.0001, 4, 1],
    [1e-2, 2, 1],
    [5e3, 2, 500000],
    [10_000_000_000, 2, 1_000_000_000_000],
    [9_999_999_999.99, 2, 999_999_999_999],
  ])('%d with %i decimals → %i', (amount, exp, minor) => {
    expect(toMinor(amount, exp)).toEqual({ ok: true, minor });
  });

  it.each([
    [1.005, 2, 'amount_too_precise'],
    [0.001, 2, 'amount_too_precise'],
    [1e-7, 2, 'amount_too_precise'],
    [1.5e-7, 3, 'amount_too_precise'],
    [0.5, 0, 'amount_too_precise'],
    [0.12345, 4, 'amount_too_precise'],
    [-1, 2, 'amount_negative'],
    [-0.01, 2, 'amount_negative'],
    [Number.NaN, 2, 'amount_not_finite'],
    [Number.POSITIVE_INFINITY, 2, 'amount_not_finite'],
    [Number.NEGATIVE_INFINITY, 2, 'amount_not_finite'],
    [1e21, 2, 'amount_too_large'],
    [1e300, 0, 'amount_too_large'],
    [10_000_000_000.01, 2, 'amount_too_large'],
    [MAX_AMOUNT_MINOR + 1, 0, 'amount_too_large'],
    [100_000_000_000.5, 1, 'amount_too_large'],
  ])('%d with %i decimals is rejected as %s', (amount, exp, reason) => {
    expect(toMinor(amount, exp)).toEqual({ ok: false, reason });
  });

  it('accepts totals beyond the single-payment cap when asked, up to 15 digits', () => {
    expect(toMinor(9_999_999_999_999.99, 2, MAX_TOTAL_MINOR)).toEqual({ ok: true, minor: MAX_TOTAL_MINOR });
    expect(toMinor(10_000_000_000_000, 2, MAX_TOTAL_MINOR)).toEqual({
      ok: false,
      reason: 'amount_too_large',
    });
    expect(toMinor(2 ** 53, 0, Number.MAX_SAFE_INTEGER)).toEqual({ ok: false, reason: 'amount_too_large' });
  });

  it('every 15-digit total renders and parses back exactly (why the total cap is 15 digits)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TOTAL_MINOR }), fc.constantFrom(0, 2, 3, 4), (minor, exp) => {
        const text = JSON.stringify(fromMinor(minor, exp));
        expect(toMinor(JSON.parse(text), exp, MAX_TOTAL_MINOR)).toEqual({ ok: true, minor });
      }),
      { numRuns: 3000 },
    );
    // …while 16 digits do not always survive: 9000000000000001 cents would print as ….02.
    expect(String(fromMinor(9_000_000_000_000_001, 2))).toBe('90000000000000.02');
  });

  it('round-trips every minor amount of every exponent (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_AMOUNT_MINOR }),
        fc.constantFrom(0, 2, 3, 4),
        (minor, exp) => {
          const amount = fromMinor(minor, exp);
          expect(toMinor(amount, exp)).toEqual({ ok: true, minor });
          // What crosses JSON is the same number.
          expect(JSON.parse(JSON.stringify(amount))).toBe(amount);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('minorOrNegative (the allocation-free reading of rendered amounts)', () => {
  // The adversary: any double a record can hold, any currency exponent, any cap — the fast answer
  // must be toMinor's, to the unit (and -1 exactly where toMinor rejects).
  it('answers exactly as toMinor for any double, exponent and cap (property)', () => {
    const amounts = fc.oneof(
      fc.double(),
      fc.integer({ min: 0, max: 10 ** 9 }).map((m) => m / 100),
      fc.integer({ min: 0, max: 10 ** 9 }).map((m) => m / 1000),
      fc.constantFrom(-0, 0.1, 0.3, 1e-7, 1e21, 999999999999999, 90000000000000.02, Number.MAX_SAFE_INTEGER),
    );
    fc.assert(
      fc.property(
        amounts,
        fc.constantFrom(0, 2, 3),
        fc.constantFrom(MAX_AMOUNT_MINOR, MAX_TOTAL_MINOR),
        (a, e, cap) => {
          const r = toMinor(a, e, cap);
          const m = minorOrNegative(a, e, cap);
          expect(Object.is(m, r.ok ? r.minor : -1)).toBe(true);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('toMinorFromText (the amount as written in the record)', () => {
  it.each([
    ['125.50', 2, { ok: true, minor: 12550 }],
    ['12.500', 2, { ok: true, minor: 1250 }],
    ['1500.0', 0, { ok: true, minor: 1500 }],
    ['1.5e2', 2, { ok: true, minor: 15000 }],
    ['5E-1', 2, { ok: true, minor: 50 }],
    ['-0', 2, { ok: true, minor: 0 }],
    ['-0.00', 2, { ok: true, minor: 0 }],
    ['0', 0, { ok: true, minor: 0 }],
    ['0.1000000000000000000001', 2, { ok: false, reason: 'amount_too_precise' }],
    ['1.005', 2, { ok: false, reason: 'amount_too_precise' }],
    ['1e-99999', 2, { ok: false, reason: 'amount_too_precise' }],
    ['-0.01', 2, { ok: false, reason: 'amount_negative' }],
    ['10000000000.01', 2, { ok: false, reason: 'amount_too_large' }],
    ['9007199254740993', 0, { ok: false, reason: 'amount_too_large' }],
    ['123456789012345678901234567890', 2, { ok: false, reason: 'amount_too_large' }],
    ['1e400', 2, { ok: false, reason: 'amount_too_large' }],
  ] as const)('%s with %i decimals → %o', (text, exp, want) => {
    expect(toMinorFromText(text, exp)).toEqual(want);
  });

  it('agrees with toMinor on every number written as JavaScript writes it (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(0, 2, 3, 4),
        (d, exp) => {
          expect(toMinorFromText(JSON.stringify(d), exp)).toEqual(toMinor(d, exp));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('is exact for any decimal text, however many digits (property, against BigInt)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[1-9][0-9]{0,20}$/),
        fc.stringMatching(/^[0-9]{0,25}$/),
        fc.integer({ min: -30, max: 30 }),
        fc.constantFrom(0, 2, 3),
        (int, frac, e, exp) => {
          const text = `${int}${frac === '' ? '' : `.${frac}`}${e === 0 ? '' : `e${e}`}`;
          // value × 10^exp = digits × 10^(e − |frac| + exp): exact iff that is a whole number.
          const digits = BigInt(int + frac);
          const scale = e - frac.length + exp;
          const whole =
            scale >= 0
              ? digits * 10n ** BigInt(scale)
              : digits % 10n ** BigInt(-scale) === 0n
                ? digits / 10n ** BigInt(-scale)
                : undefined;
          const r = toMinorFromText(text, exp);
          if (whole === undefined) expect(r).toEqual({ ok: false, reason: 'amount_too_precise' });
          else if (whole > BigInt(MAX_AMOUNT_MINOR))
            expect(r).toEqual({ ok: false, reason: 'amount_too_large' });
          else expect(r).toEqual({ ok: true, minor: Number(whole) });
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('fromMinor / formatMinor', () => {
  it.each([
    [523467, 2, 5234.67, '5234.67'],
    [523460, 2, 5234.6, '5234.60'],
    [5, 2, 0.05, '0.05'],
    [0, 2, 0, '0.00'],
    [1500, 0, 1500, '1500'],
    [5, 3, 0.005, '0.005'],
    [1234567, 3, 1234.567, '1234.567'],
    [1, 4, 0.0001, '0.0001'],
    [10000000000000, 2, 100000000000, '100000000000.00'],
  ])('%i with %i decimals → %d / %s', (minor, exp, num, text) => {
    expect(fromMinor(minor, exp)).toBe(num);
    expect(formatMinor(minor, exp)).toBe(text);
  });

  it('renders as the JSON text of the decimal', () => {
    expect(JSON.stringify({ a: fromMinor(523467, 2) })).toBe('{"a":5234.67}');
    expect(JSON.stringify({ a: fromMinor(10, 2) })).toBe('{"a":0.1}');
  });
});

describe('sums and averages', () => {
  it('a million 0.10 USD total exactly 100000.00 (and floats would not)', () => {
    let total = 0;
    let floatTotal = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const r = toMinor(0.1, 2);
      if (!r.ok) throw new Error('rejected');
      total = addMinor(total, r.minor) as number;
      floatTotal += 0.1;
    }
    expect(total).toBe(10_000_000);
    expect(fromMinor(total, 2)).toBe(100000);
    expect(floatTotal).not.toBe(100000);
  });

  it('exact for any list of amounts (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 99_999 }), { maxLength: 200 }), (cents) => {
        const amounts = cents.map((c) => fromMinor(c, 2));
        let total = 0;
        for (const a of amounts) total += (toMinor(a, 2) as { minor: number }).minor;
        expect(total).toBe(cents.reduce((s, c) => s + c, 0));
      }),
    );
  });

  it('addMinor refuses totals past 15 digits', () => {
    expect(addMinor(MAX_TOTAL_MINOR - 1, 1)).toBe(MAX_TOTAL_MINOR);
    expect(addMinor(MAX_TOTAL_MINOR, 1)).toBeUndefined();
  });

  it.each([
    [10, 4, 2], // 2.5 → 2 (half to even)
    [14, 4, 4], // 3.5 → 4
    [11, 4, 3], // 2.75 → 3
    [9, 4, 2], // 2.25 → 2
    [7, 2, 4], // 3.5 → 4
    [5, 2, 2], // 2.5 → 2
    [1, 3, 0],
    [2, 3, 1],
    [0, 5, 0],
    [100, 1, 100],
    [Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER],
    [Number.MAX_SAFE_INTEGER, 2, 4503599627370496], // …495.5 → even
    [Number.MAX_SAFE_INTEGER - 1, 3, 3002399751580330],
  ])('averageMinor(%i, %i) = %i (half-even)', (total, count, avg) => {
    expect(averageMinor(total, count)).toBe(avg);
  });

  it('averageMinor agrees with exact BigInt half-even rounding (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (total, count) => {
          const t = BigInt(total);
          const c = BigInt(count);
          let q = t / c;
          const r = t - q * c;
          if (2n * r > c || (2n * r === c && q % 2n === 1n)) q += 1n;
          expect(averageMinor(total, count)).toBe(Number(q));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
