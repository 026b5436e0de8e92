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
 * toMinor's answer as a number, -1 when it rejects: no result object in the common case (readers
 * check four amounts a cell, millions of cells). Same fast path as toMinor, else toMinor itself.
 */
export function minorOrNegative(
  amount: number,
  exponent: number,
  maxMinor: number = MAX_AMOUNT_MINOR,
): number {
  const f = POW10[exponent];
  if (f !== undefined && amount >= 0 && amount <= Number.MAX_SAFE_INTEGER) {
    const m = Math.round(amount * f);
    // +0: -0 reads as 0, as in toMinor.
    if (m <= maxMinor && m / f === amount) return m + 0;
  }
  const r = toMinor(amount, exponent, maxMinor);
  return r.ok ? r.minor : -1;
}

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
 * Minor units from the amount AS WRITTEN in the record's JSON text (`125.50`, `1.5e2`, `-0`), so
 * that digits a double cannot hold are judged too: `0.1000000000000000000001` USD is too precise,
 * although JSON.parse turns it into the same double as `0.1`. `token` must be a JSON number token
 * (JSON.parse accepted the text it came from). Trailing zeros are not precision (`12.500` USD and
 * `1500.0` JPY are exact amounts, as producers that print floats write them); any other digit past
 * the currency's decimals is `amount_too_precise`. The caller rejects non-finite values first.
 */
export function toMinorFromText(
  token: string,
  exponent: number,
  maxMinor: number = MAX_AMOUNT_MINOR,
): MinorResult {
  const fast = plainDecimal(token, exponent, maxMinor);
  if (fast !== undefined) return fast;
  let i = 0;
  const n = token.length;
  const negative = token.charCodeAt(0) === 45;
  if (negative) i++;
  // Significant digits without the decimal point, and the power of ten they are scaled by.
  let digits = '';
  let exp10 = 0;
  const start = i;
  while (i < n && isDigit(token.charCodeAt(i))) i++;
  digits = token.slice(start, i);
  if (i < n && token.charCodeAt(i) === 46) {
    const f = ++i;
    while (i < n && isDigit(token.charCodeAt(i))) i++;
    digits += token.slice(f, i);
    exp10 -= i - f;
  }
  if (i < n) {
    // e / E, an optional sign, digits. A huge exponent is still a number: judge it by value below.
    const e = Number(token.slice(i + 1));
    if (!Number.isFinite(e)) return { ok: false, reason: 'amount_too_large' };
    exp10 += e;
  }
  // Trailing zeros of the digits are not precision: 12.500 is 12.5.
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) {
    end--;
    exp10++;
  }
  let lead = 0;
  while (lead < end && digits.charCodeAt(lead) === 48) lead++;
  if (lead === end) return { ok: true, minor: 0 };
  if (negative) return { ok: false, reason: 'amount_negative' };
  const significant = digits.slice(lead, end);
  const scale = exp10 + exponent;
  if (scale < 0) return { ok: false, reason: 'amount_too_precise' };
  if (significant.length + scale > 16) return { ok: false, reason: 'amount_too_large' };
  // Exact: at most 16 digits scaled by at most 10^15; past 2^53 is caught by isSafeInteger.
  const minor = Number(significant) * 10 ** scale;
  return Number.isSafeInteger(minor) && minor <= maxMinor
    ? { ok: true, minor }
    : { ok: false, reason: 'amount_too_large' };
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * The hot path of toMinorFromText: a plain `123.45` (no sign, no exponent, at most 15 digits, so
 * the digits are exact in a double as an integer). undefined: not that shape, use the general path.
 */
function plainDecimal(token: string, exponent: number, maxMinor: number): MinorResult | undefined {
  const n = token.length;
  if (n > 15) return undefined;
  let m = 0;
  let frac = -1;
  for (let i = 0; i < n; i++) {
    const c = token.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      if (frac !== -1) frac++;
    } else if (c === 46 && frac === -1) frac = 0;
    else return undefined;
  }
  let places = frac === -1 ? 0 : frac;
  // Trailing zeros are not precision.
  while (places > exponent && m % 10 === 0) {
    m /= 10;
    places--;
  }
  if (places > exponent) return { ok: false, reason: 'amount_too_precise' };
  const minor = m * (POW10[exponent - places] as number);
  return minor <= maxMinor ? { ok: true, minor } : { ok: false, reason: 'amount_too_large' };
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
