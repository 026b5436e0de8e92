/**
 * Validation of one raw input record, the hot path of the aggregator. Two ways, one answer: the
 * compact reader (readCompactRecord) takes the usual compact five-field record in one pass over
 * its bytes and only accepts; everything else goes the full way (validateRecordFull: JSON.parse
 * once, one pass over the top level of the text for what JSON.parse hides, then a handful of
 * typeof checks and one Map lookup), which decides and words every rejection.
 *
 * JSON.parse hides two things a payment cannot afford: a key written twice (the last one wins
 * silently: `{"amount":999,…,"amount":10.5}` would count 10.50) and the digits of a number past
 * what a double holds (`0.1000000000000000000001` parses as 0.1). So the amount is judged from
 * its text, and a repeated key is rejected with its own reason.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { CURRENCY_CODES, currencyExponent } from './currency.js';
import { MAX_AMOUNT_MINOR, toMinor, toMinorFromText } from './money.js';

/** The event as producers send it. */
export interface WireEvent {
  transaction_id: string;
  amount: number;
  currency: string;
  merchant: string;
  event_timestamp: number;
}

/** A validated event: the wire fields plus the amount in exact integer minor units. */
export interface PaymentEvent extends WireEvent {
  amountMinor: number;
}

export type RejectReason =
  | 'record_too_large'
  | 'not_utf8'
  /**
   * The bytes hold a line break (LF or CR): the raw archive stores one record per line, and every
   * line reader (Athena, DuckDB, reconcile) would see fragments of it, never the record.
   */
  | 'line_break'
  | 'not_json'
  | 'not_object'
  /** A key written twice at the top level (JSON.parse would keep the last one). */
  | 'duplicate_key'
  | 'missing_field'
  | 'wrong_type'
  /** transaction_id or merchant holds a control character (U+0000–U+001F, U+007F–U+009F). */
  | 'control_characters'
  | 'amount_not_finite'
  | 'amount_negative'
  | 'amount_too_precise'
  | 'amount_too_large'
  | 'unknown_currency'
  | 'timestamp_not_integer'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'transaction_id_empty'
  | 'transaction_id_too_long'
  | 'merchant_empty'
  | 'merchant_too_long'
  /** Not a property of the record alone: adding it would push its window's total past MAX_TOTAL_MINOR. */
  | 'total_overflow';

export const REJECT_REASONS: readonly RejectReason[] = [
  'record_too_large',
  'not_utf8',
  'line_break',
  'not_json',
  'not_object',
  'duplicate_key',
  'missing_field',
  'wrong_type',
  'control_characters',
  'amount_not_finite',
  'amount_negative',
  'amount_too_precise',
  'amount_too_large',
  'unknown_currency',
  'timestamp_not_integer',
  'timestamp_too_old',
  'timestamp_in_future',
  'transaction_id_empty',
  'transaction_id_too_long',
  'merchant_empty',
  'merchant_too_long',
  'total_overflow',
];

export type ValidationResult =
  | { ok: true; event: PaymentEvent }
  | { ok: false; reason: RejectReason; detail: string };

export interface ValidationContext {
  /** When Kinesis accepted the record (approximateArrivalTimestamp), epoch ms. */
  arrivalMs: number;
  /** event_timestamp may be at most this far ahead of arrival (clock skew allowance). */
  maxFutureSkewMs: number;
}

/** Kinesis' own record limit (data blob); anything larger cannot be a real Kinesis record. */
export const MAX_RECORD_BYTES = 1024 * 1024;
export const MAX_TRANSACTION_ID_LENGTH = 64;
export const MAX_MERCHANT_LENGTH = 128;
/** 2000-01-01T00:00:00.000Z: anything earlier is a unit mistake (seconds instead of ms). */
export const MIN_EVENT_TIMESTAMP_MS = 946_684_800_000;

const REQUIRED = ['transaction_id', 'amount', 'currency', 'merchant', 'event_timestamp'] as const;

const utf8 = new TextDecoder('utf-8');

/** Control characters escaped as \\uXXXX so a detail is always one printable line. */
export const oneLine = (t: string): string =>
  t.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

const reject = (reason: RejectReason, detail: string): ValidationResult => ({ ok: false, reason, detail });

/** Names the first line break by kind and byte position (1-based), and what to do instead. */
function lineBreak(text: string, at: number): ValidationResult {
  const byte = Buffer.byteLength(text.slice(0, at)) + 1;
  return reject(
    'line_break',
    `record holds a line break (${text.charCodeAt(at) === 10 ? 'LF' : 'CR'} at byte ${byte}): the archive stores one record per line; send compact JSON`,
  );
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Keeps details one short line even when the offending value is huge. */
const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** The first 57 characters of a long token and `...`. */
const clip = (t: string): string => (t.length > 60 ? `${t.slice(0, 57)}...` : t);

/** True when the string is empty or only whitespace (checked without a regex or a trimmed copy). */
function isBlank(s: string): boolean {
  // Fast exit on the usual first character; otherwise String#trim, which knows every Unicode space
  // (em space, thin space, …) and the BOM.
  const c = s.charCodeAt(0);
  if (c > 32 && c < 127) return false;
  return s.trim() === '';
}

/**
 * Validates one raw record: the compact reader first (one pass over the bytes, no text, no
 * JSON.parse; it accepts only what it fully verifies), and anything it does not accept goes the
 * full way (validateRecordFull), which decides and words every rejection. Both give the same
 * answer for every input (test/domain/event-fast-path.test.ts).
 */
export function validateRecord(data: Uint8Array, ctx: ValidationContext): ValidationResult {
  const c = scratchRecord;
  if (readCompactRecord(data, data.byteLength, ctx.arrivalMs, ctx.maxFutureSkewMs, c)) {
    return { ok: true, event: compactEvent(data, c) };
  }
  return validateRecordFull(data, ctx);
}

/**
 * The full validation: any JSON the record may hold (escapes, reordered or extra keys, nested
 * values, exponent amounts, Unicode), and the reason for every rejection.
 */
export function validateRecordFull(data: Uint8Array, ctx: ValidationContext): ValidationResult {
  if (data.byteLength > MAX_RECORD_BYTES) {
    return reject('record_too_large', `record is ${data.byteLength} bytes, the limit is ${MAX_RECORD_BYTES}`);
  }
  // isUtf8 is a native scan; then a plain (non-fatal) decode, which is cheaper than a fatal TextDecoder.
  if (!isUtf8(data)) return reject('not_utf8', 'record data is not valid UTF-8');
  const text = utf8.decode(data);
  // Before anything is counted: a record the raw archive cannot hold as one line (Firehose appends
  // a newline per record; Hadoop/Athena and DuckDB split on LF, CR and CRLF) is a dead letter, so
  // the aggregates and every line reader of the archive agree. Two native scans, no regex.
  const lf = text.indexOf('\n');
  const cr = text.indexOf('\r');
  if (lf !== -1 || cr !== -1) return lineBreak(text, lf === -1 || (cr !== -1 && cr < lf) ? cr : lf);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // V8 quotes the input in its message: keep the detail one printable line whatever the bytes were.
    return reject('not_json', `record data is not JSON: ${oneLine((e as Error).message)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('not_object', `expected a JSON object, got ${typeName(parsed)}`);
  }
  const o = parsed as Record<string, unknown>;
  // Distinct keys: the usual record has exactly the five fields (counted without allocating then).
  let colons = colonsUpTo(text, REQUIRED.length + 1);
  let distinct: number = REQUIRED.length;
  if (colons !== REQUIRED.length || !hasRequired(o)) {
    distinct = Object.keys(o).length;
    colons = colonsUpTo(text, distinct + 1);
  }
  const top = flatTopLevel(text, distinct, colons, o.amount !== undefined) ?? scanTopLevel(text);
  if (top.keys !== distinct) {
    const dup = duplicateKey(text, parsed);
    return reject(
      'duplicate_key',
      dup === undefined ? 'a key appears more than once' : `key ${show(dup)} appears more than once`,
    );
  }
  return validateObject(o, ctx, top.amount);
}

/**
 * Validates an already-parsed value (tools that read events from files, `results --raw`). Without
 * the text, a repeated key cannot be seen and the amount is judged from its double.
 */
export function validateValue(parsed: unknown, ctx: ValidationContext): ValidationResult {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('not_object', `expected a JSON object, got ${typeName(parsed)}`);
  }
  return validateObject(parsed as Record<string, unknown>, ctx, undefined);
}

const hasRequired = (o: Record<string, unknown>): boolean =>
  o.transaction_id !== undefined &&
  o.amount !== undefined &&
  o.currency !== undefined &&
  o.merchant !== undefined &&
  o.event_timestamp !== undefined;

/** A rejection naming the first control character (C0, DEL, C1: its code, never the character itself). */
function controlIn(field: string, v: string): ValidationResult | undefined {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 32 || (c >= 127 && c <= 159)) {
      const code = c.toString(16).toUpperCase().padStart(4, '0');
      return reject(
        'control_characters',
        `${field} holds a control character (U+${code} at position ${i + 1})`,
      );
    }
  }
  return undefined;
}

function validateObject(
  o: Record<string, unknown>,
  ctx: ValidationContext,
  amountText: string | undefined,
): ValidationResult {
  const { transaction_id, amount, currency, merchant, event_timestamp } = o;
  // Named loads, not a loop of keyed ones: this runs once per record.
  if (!hasRequired(o)) {
    const f = REQUIRED.find((k) => o[k] === undefined);
    return reject('missing_field', `field "${f}" is missing`);
  }
  if (typeof transaction_id !== 'string') {
    return reject('wrong_type', `transaction_id must be a string, got ${typeName(transaction_id)}`);
  }
  if (typeof amount !== 'number') {
    return reject('wrong_type', `amount must be a number, got ${typeName(amount)}`);
  }
  if (typeof currency !== 'string') {
    return reject('wrong_type', `currency must be a string, got ${typeName(currency)}`);
  }
  if (typeof merchant !== 'string') {
    return reject('wrong_type', `merchant must be a string, got ${typeName(merchant)}`);
  }
  if (typeof event_timestamp !== 'number') {
    return reject(
      'wrong_type',
      `event_timestamp must be a number (epoch ms), got ${typeName(event_timestamp)}`,
    );
  }
  if (isBlank(transaction_id)) return reject('transaction_id_empty', 'transaction_id is empty');
  if (transaction_id.length > MAX_TRANSACTION_ID_LENGTH) {
    return reject(
      'transaction_id_too_long',
      `transaction_id is ${transaction_id.length} characters, the limit is ${MAX_TRANSACTION_ID_LENGTH}`,
    );
  }
  if (isBlank(merchant)) return reject('merchant_empty', 'merchant is empty');
  if (merchant.length > MAX_MERCHANT_LENGTH) {
    return reject(
      'merchant_too_long',
      `merchant is ${merchant.length} characters, the limit is ${MAX_MERCHANT_LENGTH}`,
    );
  }
  const control = controlIn('transaction_id', transaction_id) ?? controlIn('merchant', merchant);
  if (control !== undefined) return control;
  const exponent = currencyExponent(currency);
  if (exponent === undefined) {
    return reject(
      'unknown_currency',
      `currency ${show(currency)} is not an ISO 4217 code (upper-case, e.g. USD)`,
    );
  }
  // The text decides (exact digits); without it, or for ±Infinity (a 1e999 literal), the double.
  const minor =
    amountText !== undefined && Number.isFinite(amount)
      ? toMinorFromText(amountText, exponent)
      : toMinor(amount, exponent);
  if (!minor.ok) {
    switch (minor.reason) {
      case 'amount_not_finite':
        return reject(minor.reason, `amount ${show(amount)} is not a finite number`);
      case 'amount_negative':
        return reject(minor.reason, `amount ${show(amount)} is negative`);
      case 'amount_too_precise':
        return reject(
          minor.reason,
          `amount ${amountText === undefined ? show(amount) : clip(amountText)} has more than ${exponent} decimals allowed for ${currency}`,
        );
      case 'amount_too_large':
        return reject(minor.reason, `amount ${show(amount)} ${currency} exceeds the per-payment limit`);
    }
  }
  if (!Number.isInteger(event_timestamp)) {
    return reject(
      'timestamp_not_integer',
      `event_timestamp ${show(event_timestamp)} is not whole epoch milliseconds`,
    );
  }
  if (event_timestamp < MIN_EVENT_TIMESTAMP_MS) {
    return reject(
      'timestamp_too_old',
      `event_timestamp ${event_timestamp} is before 2000-01-01 (seconds instead of milliseconds?)`,
    );
  }
  if (event_timestamp > ctx.arrivalMs + ctx.maxFutureSkewMs) {
    return reject(
      'timestamp_in_future',
      `event_timestamp ${event_timestamp} is ${event_timestamp - ctx.arrivalMs} ms after arrival (allowed skew ${ctx.maxFutureSkewMs} ms)`,
    );
  }
  return {
    ok: true,
    event: { transaction_id, amount, currency, merchant, event_timestamp, amountMinor: minor.minor },
  };
}

/**
 * One pass over the top level of an object's JSON text (JSON.parse accepted it, so it is valid):
 * how many keys it writes, and the raw text of the `amount` value when that is a number. Strings
 * are skipped with indexOf, scalars by the comma or brace that ends them, nested values by depth.
 */
function scanTopLevel(t: string): { keys: number; amount: string | undefined } {
  let keys = 0;
  let amount: string | undefined;
  let i = t.indexOf('{') + 1;
  for (;;) {
    i = skipWs(t, i);
    if (t.charCodeAt(i) !== QUOTE) break; // `}`: the end of the object
    const ke = stringEnd(t, i);
    keys++;
    const vs = skipWs(t, skipWs(t, ke + 1) + 1); // past the colon
    const c = t.charCodeAt(vs);
    let ve: number;
    if (c === QUOTE) ve = stringEnd(t, vs) + 1;
    else if (c === 123 || c === 91) ve = nestedEnd(t, vs);
    else {
      ve = scalarEnd(t, vs);
      if ((c === 45 || (c >= 48 && c <= 57)) && isAmountKey(t, i, ke)) amount = t.slice(vs, ve);
    }
    i = skipWs(t, ve);
    if (t.charCodeAt(i) !== 44) break; // not a comma: `}`
    i++;
  }
  return { keys, amount };
}

/** How many `:` the text holds, counting no further than `max` (native indexOf, not a loop per character). */
function colonsUpTo(t: string, max: number): number {
  let n = 0;
  for (let i = t.indexOf(':'); i !== -1 && n < max; i = t.indexOf(':', i + 1)) n++;
  return n;
}

/**
 * The fast path of scanTopLevel. Every key is followed by a colon, and colons can otherwise only
 * be inside strings or nested objects, so colons ≥ keys written ≥ distinct keys: when the text
 * has exactly as many colons as the object has distinct keys, no key is written twice, nothing is
 * nested and no string holds a colon. Then `"amount"` followed by a colon is the amount key (a
 * string value cannot be followed by a colon, nor hold an unescaped quote). undefined: not that
 * simple a record, or the amount key is spelled with escapes; take the full scan.
 */
function flatTopLevel(
  t: string,
  distinct: number,
  colons: number,
  hasAmount: boolean,
): { keys: number; amount: string | undefined } | undefined {
  if (colons !== distinct) return undefined;
  for (let at = t.indexOf('"amount"'); at !== -1; at = t.indexOf('"amount"', at + 1)) {
    const colon = skipWs(t, at + 8);
    if (t.charCodeAt(colon) !== 58) continue; // a string value "amount", not the key
    const vs = skipWs(t, colon + 1);
    const c = t.charCodeAt(vs);
    if (c !== 45 && (c < 48 || c > 57)) return { keys: distinct, amount: undefined };
    return { keys: distinct, amount: t.slice(vs, scalarEnd(t, vs)) };
  }
  return hasAmount ? undefined : { keys: distinct, amount: undefined };
}

/** End of the number or literal starting at `vs`: the next `,` or `}` (neither occurs inside it), less whitespace. */
function scalarEnd(t: string, vs: number): number {
  const comma = t.indexOf(',', vs);
  const brace = t.indexOf('}', vs);
  let ve = comma !== -1 && comma < brace ? comma : brace;
  while (isWsCode(t.charCodeAt(ve - 1))) ve--;
  return ve;
}

/** `"amount"`, also when spelled with escapes (`"am\u006funt"`): JSON.parse makes them one key. */
function isAmountKey(t: string, ks: number, ke: number): boolean {
  if (ke - ks === 7) return t.startsWith('"amount"', ks);
  // An escaped spelling is at least 11 characters between the quotes; only then look for `\`.
  if (ke - ks < 12) return false;
  for (let k = ks + 1; k < ke; k++)
    if (t.charCodeAt(k) === 92) return JSON.parse(t.slice(ks, ke + 1)) === 'amount';
  return false;
}

/**
 * Which key is written twice, for the message (slow path: the record is rejected anyway; bounded,
 * so a megabyte of keys cannot make it slow). undefined when spelled differently each time.
 */
function duplicateKey(text: string, o: object): string | undefined {
  for (const k of Object.keys(o).slice(0, 32)) {
    const written = new RegExp(`${JSON.stringify(k).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`, 'g');
    if ((text.match(written)?.length ?? 0) > 1) return k;
  }
  return undefined;
}

const QUOTE = 34;

const isWsCode = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

const skipWs = (t: string, i: number): number => {
  let j = i;
  while (isWsCode(t.charCodeAt(j))) j++;
  return j;
};

/** Index of the quote that closes the string opening at `i`. */
function stringEnd(t: string, i: number): number {
  let q = t.indexOf('"', i + 1);
  for (;;) {
    let k = q - 1;
    while (t.charCodeAt(k) === 92) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    q = t.indexOf('"', q + 1);
  }
}

/** Index just past the object or array opening at `i`. */
function nestedEnd(t: string, i: number): number {
  let depth = 0;
  let j = i;
  for (;;) {
    const c = t.charCodeAt(j);
    if (c === QUOTE) j = stringEnd(t, j);
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
}

// ---------------------------------------------------------------------------------------------
// The compact reader: the aggregator's fast path.
//
// A producer's record is almost always the compact five-field object serializeEvent writes. For
// that shape one pass over the bytes can check everything validateRecordFull checks, without the
// text, JSON.parse's object or any string: each of the five keys exactly once (any order, spelled
// without escapes, no other key), spaces only as whitespace, transaction_id and merchant printable
// ASCII with no escapes (so no control character, no invalid UTF-8, and their length is their byte
// count), a known currency of three capitals, a plain decimal amount of at most 15 digits with no
// more decimals than its currency has (trailing zeros aside) and within the per-payment limit, and
// a whole event_timestamp within the accepted range. Anything else — a byte it does not expect,
// a value out of range, a record that would be rejected — returns false and the full path decides,
// so the compact reader never rejects and never words a reason: it cannot disagree with the full
// path about why. Line breaks (\n, \r), tabs and every other control byte are outside its grammar.
// ---------------------------------------------------------------------------------------------

/** What the compact reader found: the numbers, the currency and where the two strings are. */
export interface CompactRecord {
  amount: number;
  amountMinor: number;
  currency: string;
  event_timestamp: number;
  /** transaction_id's bytes: [idStart, idEnd) (printable ASCII, no escapes). */
  idStart: number;
  idEnd: number;
  /** merchant's bytes: [merchantStart, merchantEnd). */
  merchantStart: number;
  merchantEnd: number;
}

export const newCompactRecord = (): CompactRecord => ({
  amount: 0,
  amountMinor: 0,
  currency: '',
  event_timestamp: 0,
  idStart: 0,
  idEnd: 0,
  merchantStart: 0,
  merchantEnd: 0,
});

const scratchRecord = newCompactRecord();

/**
 * The known currencies by their three bytes (A–Z), so the reader finds the code's string and
 * exponent with one integer-keyed lookup and builds no string.
 */
const CURRENCY_BY_BYTES: ReadonlyMap<number, { code: string; exponent: number }> = new Map(
  CURRENCY_CODES.filter((c) => /^[A-Z]{3}$/.test(c)).map((code) => [
    (code.charCodeAt(0) << 16) | (code.charCodeAt(1) << 8) | code.charCodeAt(2),
    { code, exponent: currencyExponent(code) as number },
  ]),
);

const POW10 = [
  1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 1e10, 1e11, 1e12,
  1e13, 1e14, 1e15,
];

// Which key a member is: bit flags, so a repeated key is seen with one test.
const K_ID = 1;
const K_AMOUNT = 2;
const K_CURRENCY = 4;
const K_MERCHANT = 8;
const K_TS = 16;
const K_ALL = 31;

/**
 * The key starting at `i` (just past its opening quote) when it is one of the five written
 * plainly and closed by a quote; 0 otherwise. Compared byte by byte: no string is built.
 */
function keyAt(b: Uint8Array, i: number, n: number): number {
  const c = i < n ? b[i] : -1;
  if (c === 116) return matches(b, i, n, TRANSACTION_ID) ? K_ID : 0;
  if (c === 97) return matches(b, i, n, AMOUNT) ? K_AMOUNT : 0;
  if (c === 99) return matches(b, i, n, CURRENCY) ? K_CURRENCY : 0;
  if (c === 109) return matches(b, i, n, MERCHANT) ? K_MERCHANT : 0;
  if (c === 101) return matches(b, i, n, EVENT_TIMESTAMP) ? K_TS : 0;
  return 0;
}

const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s);
// Each with its closing quote, so a longer key with the same start does not match.
const TRANSACTION_ID = bytesOf('transaction_id"');
const AMOUNT = bytesOf('amount"');
const CURRENCY = bytesOf('currency"');
const MERCHANT = bytesOf('merchant"');
const EVENT_TIMESTAMP = bytesOf('event_timestamp"');
const KEY_LENGTH: Record<number, number> = {
  [K_ID]: TRANSACTION_ID.length,
  [K_AMOUNT]: AMOUNT.length,
  [K_CURRENCY]: CURRENCY.length,
  [K_MERCHANT]: MERCHANT.length,
  [K_TS]: EVENT_TIMESTAMP.length,
};

function matches(b: Uint8Array, i: number, n: number, key: Uint8Array): boolean {
  if (i + key.length > n) return false;
  for (let k = 0; k < key.length; k++) if (b[i + k] !== key[k]) return false;
  return true;
}

/**
 * Index of the closing quote of a string value whose bytes start at `i`, when every byte before
 * it is printable ASCII other than `\`; -1 otherwise (an escape, a control byte, a non-ASCII
 * byte, or no closing quote: the full path decides).
 */
function plainStringEnd(b: Uint8Array, i: number, n: number): number {
  for (let j = i; j < n; j++) {
    const c = b[j] as number;
    if (c === 34) return j;
    if (c < 32 || c > 126 || c === 92) return -1;
  }
  return -1;
}

/** True when bytes [s, e) are all spaces (blank: the full path rejects it as empty). */
function allSpaces(b: Uint8Array, s: number, e: number): boolean {
  for (let j = s; j < e; j++) if (b[j] !== 32) return false;
  return true;
}

/** Where plainNumber stopped and how many decimals it read (module variables: no object per number). */
let numEnd = 0;
let numPlaces = 0;

/**
 * A JSON number at `i` without sign or exponent (`0`, `12`, `125.50`), at most 15 digits so its
 * digits are exact as an integer: that integer (numPlaces of them decimals), or -1 when it is
 * anything else. The byte after it is left for the caller to check.
 */
function plainNumber(b: Uint8Array, i: number, n: number): number {
  let j = i;
  let m = 0;
  const c = b[j] as number;
  if (c === 48) {
    j++; // a leading 0 is the whole integer part; a digit after it is not JSON
  } else if (c >= 49 && c <= 57) {
    for (; j < n; j++) {
      const d = (b[j] as number) - 48;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
    }
  } else return -1;
  let digits = j - i;
  let places = 0;
  if (j < n && b[j] === 46) {
    j++;
    const f = j;
    for (; j < n; j++) {
      const d = (b[j] as number) - 48;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
    }
    places = j - f;
    if (places === 0) return -1;
    digits += places;
  }
  if (digits > 15) return -1;
  numEnd = j;
  numPlaces = places;
  return m;
}

/**
 * Reads bytes [0, n) of `b` as the compact five-field record and writes what it found into `out`.
 * true: validateRecordFull accepts this record with exactly these values (the strings are the
 * bytes at out's offsets). false: not that shape, or not valid; ask validateRecordFull. Allocates
 * nothing.
 */
export function readCompactRecord(
  b: Uint8Array,
  n: number,
  arrivalMs: number,
  maxFutureSkewMs: number,
  out: CompactRecord,
): boolean {
  if (n > MAX_RECORD_BYTES) return false;
  let i = 0;
  while (i < n && b[i] === 32) i++;
  // Every read checks i < n: past n a reused buffer holds the previous record's bytes.
  if (i >= n || b[i] !== 123) return false;
  i++;
  let seen = 0;
  for (;;) {
    while (i < n && b[i] === 32) i++;
    if (i >= n || b[i] !== 34) return false;
    i++;
    const key = keyAt(b, i, n);
    if (key === 0 || (seen & key) !== 0) return false;
    seen |= key;
    i += KEY_LENGTH[key] as number;
    while (i < n && b[i] === 32) i++;
    if (i >= n || b[i] !== 58) return false;
    i++;
    while (i < n && b[i] === 32) i++;
    if (i >= n) return false;
    if (key === K_ID || key === K_MERCHANT || key === K_CURRENCY) {
      if (b[i] !== 34) return false;
      const s = i + 1;
      const e = plainStringEnd(b, s, n);
      if (e === -1) return false;
      if (key === K_CURRENCY) {
        if (e - s !== 3) return false;
        const cur = CURRENCY_BY_BYTES.get(
          ((b[s] as number) << 16) | ((b[s + 1] as number) << 8) | (b[s + 2] as number),
        );
        if (cur === undefined) return false;
        out.currency = cur.code;
        currencyExp = cur.exponent;
      } else if (key === K_ID) {
        if (e === s || e - s > MAX_TRANSACTION_ID_LENGTH || allSpaces(b, s, e)) return false;
        out.idStart = s;
        out.idEnd = e;
      } else {
        if (e === s || e - s > MAX_MERCHANT_LENGTH || allSpaces(b, s, e)) return false;
        out.merchantStart = s;
        out.merchantEnd = e;
      }
      i = e + 1;
    } else if (key === K_AMOUNT) {
      const m = plainNumber(b, i, n);
      if (m === -1) return false;
      // The double JSON.parse gives: m and 10^places are exact (≤ 15 digits, places ≤ 15), and one
      // IEEE division of exact operands is correctly rounded, as JSON.parse's reading is.
      out.amount = m / (POW10[numPlaces] as number);
      amountDigits = m;
      amountPlaces = numPlaces;
      i = numEnd;
    } else {
      const m = plainNumber(b, i, n);
      if (m === -1 || numPlaces !== 0) return false;
      if (m < MIN_EVENT_TIMESTAMP_MS || m > arrivalMs + maxFutureSkewMs) return false;
      out.event_timestamp = m;
      i = numEnd;
    }
    while (i < n && b[i] === 32) i++;
    const c = i < n ? b[i] : -1;
    if (c === 44) {
      i++;
      continue;
    }
    if (c !== 125 || seen !== K_ALL) return false;
    i++;
    break;
  }
  while (i < n && b[i] === 32) i++;
  if (i !== n) return false;
  // The amount in minor units (currency and amount may come in either order): trailing zeros
  // are not precision, any other decimal past the currency's is (the full path rejects it).
  const exponent = currencyExp;
  let m = amountDigits;
  let places = amountPlaces;
  while (places > exponent && m % 10 === 0) {
    m /= 10;
    places--;
  }
  if (places > exponent) return false;
  const minor = m * (POW10[exponent - places] as number);
  if (minor > MAX_AMOUNT_MINOR) return false;
  out.amountMinor = minor;
  return true;
}

// The amount's digits and decimals and the currency's exponent, kept until both are read (they
// may come in either order); module variables, not an object per record.
let amountDigits = 0;
let amountPlaces = 0;
let currencyExp = 0;

const latin1 = new TextDecoder('latin1');

/** The event a compact record holds (its two strings built from their ASCII bytes). */
export function compactEvent(b: Uint8Array, c: CompactRecord): PaymentEvent {
  return {
    transaction_id: latin1.decode(b.subarray(c.idStart, c.idEnd)),
    amount: c.amount,
    currency: c.currency,
    merchant: latin1.decode(b.subarray(c.merchantStart, c.merchantEnd)),
    event_timestamp: c.event_timestamp,
    amountMinor: c.amountMinor,
  };
}

/** The wire JSON of an event: exactly the five fields, stable order (no amountMinor). */
export function serializeEvent(e: WireEvent): string {
  return JSON.stringify({
    transaction_id: e.transaction_id,
    amount: e.amount,
    currency: e.currency,
    merchant: e.merchant,
    event_timestamp: e.event_timestamp,
  });
}
