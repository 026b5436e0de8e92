/**
 * Validation of one raw input record (the hot path of the aggregator: JSON.parse once, then a
 * handful of typeof checks and one Map lookup; no regexes).
 */
import { isUtf8 } from 'node:buffer';
import { currencyExponent } from './currency.js';
import { toMinor } from './money.js';

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
  | 'not_json'
  | 'not_object'
  | 'missing_field'
  | 'wrong_type'
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
  'not_json',
  'not_object',
  'missing_field',
  'wrong_type',
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
const oneLine = (t: string): string =>
  t.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

const reject = (reason: RejectReason, detail: string): ValidationResult => ({ ok: false, reason, detail });

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Keeps details one short line even when the offending value is huge. */
const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

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
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    // V8 quotes the input in its message: keep the detail one printable line whatever the bytes were.
    return reject('not_json', `record data is not JSON: ${oneLine((e as Error).message)}`);
  }
  return validateValue(parsed, ctx);
}

/** Validates an already-parsed value (shared with tools that read events from files). */
export function validateValue(parsed: unknown, ctx: ValidationContext): ValidationResult {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return reject('not_object', `expected a JSON object, got ${typeName(parsed)}`);
  }
  const o = parsed as Record<string, unknown>;
  for (const f of REQUIRED) {
    if (o[f] === undefined) return reject('missing_field', `field "${f}" is missing`);
  }
  const { transaction_id, amount, currency, merchant, event_timestamp } = o;
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
  const exponent = currencyExponent(currency);
  if (exponent === undefined) {
    return reject(
      'unknown_currency',
      `currency ${show(currency)} is not an ISO 4217 code (upper-case, e.g. USD)`,
    );
  }
  const minor = toMinor(amount, exponent);
  if (!minor.ok) {
    switch (minor.reason) {
      case 'amount_not_finite':
        return reject(minor.reason, `amount ${show(amount)} is not a finite number`);
      case 'amount_negative':
        return reject(minor.reason, `amount ${show(amount)} is negative`);
      case 'amount_too_precise':
        return reject(
          minor.reason,
          `amount ${show(amount)} has more than ${exponent} decimals allowed for ${currency}`,
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
