/**
 * Exact money. Amounts arrive as JSON numbers (binary doubles); we turn them into integer minor
 * units (cents, yen, fils) through their shortest decimal string, never by multiplying floats
 * (0.1 * 100 is 10.000000000000002). Every sum is an integer, so a million 0.10 USD payments total
 * exactly 100000.00.
 */

/** Largest single amount accepted, in minor units (10 billion USD): a validation rule. */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

/**
 * Largest total we keep, in minor units: 15 digits. Not 2^53: a total must also RENDER exactly as
 * a JSON number with the currency's decimals, and only decimals of ≤ 15 significant digits are
 * guaranteed to survive the trip through a double (90000000000000.01 prints as …0.02).
 */
export const MAX_TOTAL_MINOR = 999_999_999_999_999;

export type MinorResult =
  | { ok: true; minor: number }
  | {
      ok: false;
      reason: 'amount_not_finite' | 'amount_negative' | 'amount_too_precise' | 'amount_too_large';
    };

const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];

/**
 * Converts a JSON number to integer minor units of a currency with `exponent` decimals.
 * Rejects non-finite, negative, more decimals than the currency has, and more than `maxMinor`
 * (default MAX_AMOUNT_MINOR, the single-payment rule; sums pass Number.MAX_SAFE_INTEGER). -0 is 0.
 */
export function toMinor(amount: number, exponent: number, maxMinor: number = MAX_AMOUNT_MINOR): MinorResult {
  if (!Number.isFinite(amount)) return { ok: false, reason: 'amount_not_finite' };
  if (amount < 0) return { ok: false, reason: 'amount_negative' };
  // Fast path for whole amounts (JPY, and "12" in USD): exact while the product stays a safe integer.
  if (Number.isInteger(amount)) {
    if (amount > maxMinor) return { ok: false, reason: 'amount_too_large' };
    const minor = amount * (POW10[exponent] as number);
    return Number.isSafeInteger(minor) && minor <= maxMinor
      ? { ok: true, minor: minor + 0 }
      : { ok: false, reason: 'amount_too_large' };
  }
  // Fast path (the hot one): m = round(amount × 10^exp) is exact when m / 10^exp gives back the very
  // same double — two decimals with ≤ exp places are 10^-exp apart, far more than a double's spacing
  // below 2^53 / 10^exp, so no other decimal with ≤ exp places maps to this double. Otherwise (too
  // precise, or huge) the string path below decides.
  const scaleFactor = POW10[exponent];
  if (scaleFactor !== undefined) {
    const m = Math.round(amount * scaleFactor);
    if (m <= maxMinor && m / scaleFactor === amount) return { ok: true, minor: m };
  }
  // String(n) is the shortest decimal that round-trips to n: "125.5", "1e-7", "1.5e-7".
  const s = String(amount);
  let mantissa = s;
  let exp10 = 0;
  const e = s.indexOf('e');
  if (e !== -1) {
    mantissa = s.slice(0, e);
    exp10 = Number(s.slice(e + 1));
  }
  const dot = mantissa.indexOf('.');
  let digits = mantissa;
  if (dot !== -1) {
    digits = mantissa.slice(0, dot) + mantissa.slice(dot + 1);
    exp10 -= mantissa.length - dot - 1;
  }
  // value = digits × 10^exp10; in minor units: digits × 10^(exp10 + exponent).
  const scale = exp10 + exponent;
  if (scale < 0) {
    // The shortest form never ends its fraction in 0, so a negative scale is real extra precision.
    return { ok: false, reason: 'amount_too_precise' };
  }
  // Leading zeros ("0.05" → "005") don't count towards magnitude; > 16 digits is past 2^53 anyway.
  let lead = 0;
  while (lead < digits.length - 1 && digits.charCodeAt(lead) === 48) lead++;
  if (digits.length - lead + scale > 16) return { ok: false, reason: 'amount_too_large' };
  // Exact: ≤ 16 digits and 10^scale ≤ 10^16; anything beyond 2^53 rounds to ≥ 2^53, caught here.
  const minor = Number(digits) * 10 ** scale;
  return Number.isSafeInteger(minor) && minor <= maxMinor
    ? { ok: true, minor }
    : { ok: false, reason: 'amount_too_large' };
}

/**
 * Minor units back to a JSON number with the currency's decimals: 523467 (USD) → 5234.67.
 * Built from the decimal string so the double is the one nearest that decimal (what JSON.parse of
 * "5234.67" gives); JSON.stringify then prints it back exactly.
 */
export function fromMinor(minor: number, exponent: number): number {
  if (exponent === 0) return minor;
  return Number(formatMinor(minor, exponent));
}

/** Minor units as a fixed-decimals string for humans: 523460 (USD) → "5234.60", 5 (BHD) → "0.005". */
export function formatMinor(minor: number, exponent: number): string {
  const neg = minor < 0;
  const digits = String(Math.abs(minor));
  if (exponent === 0) return neg ? `-${digits}` : digits;
  const padded = digits.length <= exponent ? digits.padStart(exponent + 1, '0') : digits;
  const cut = padded.length - exponent;
  return `${neg ? '-' : ''}${padded.slice(0, cut)}.${padded.slice(cut)}`;
}

/** a + b for minor-unit totals; undefined when the sum passes MAX_TOTAL_MINOR (see there). */
export function addMinor(a: number, b: number): number | undefined {
  const s = a + b;
  return s <= MAX_TOTAL_MINOR ? s : undefined;
}

/**
 * total / count rounded to a whole minor unit, HALF-EVEN (banker's rounding: no upward bias
 * across many windows), computed in integers. count must be > 0, total a safe integer ≥ 0.
 */
export function averageMinor(total: number, count: number): number {
  let q = Math.floor(total / count);
  let r = total - q * count;
  // The float division can be one off for totals near 2^53; fix up in integers.
  while (r < 0) {
    q -= 1;
    r += count;
  }
  while (r >= count) {
    q += 1;
    r -= count;
  }
  const twice = 2 * r;
  if (twice > count || (twice === count && q % 2 === 1)) q += 1;
  return q;
}
