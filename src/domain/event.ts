/**
 * Validation of one raw input record (the hot path of the aggregator: JSON.parse once, one pass
 * over the top level of the text for what JSON.parse hides, then a handful of typeof checks and
 * one Map lookup).
 *
 * JSON.parse hides two things a payment cannot afford: a key written twice (the last one wins
 * silently: `{"amount":999,…,"amount":10.5}` would count 10.50) and the digits of a number past
 * what a double holds (`0.1000000000000000000001` parses as 0.1). So the amount is judged from
 * its text, and a repeated key is rejected with its own reason.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { currencyExponent } from './currency.js';
import { toMinor, toMinorFromText } from './money.js';

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

export function validateRecord(data: Uint8Array, ctx: ValidationContext): ValidationResult {
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
