import { describe, expect, it } from 'vitest';
import {
  MAX_RECORD_BYTES,
  type RejectReason,
  REJECT_REASONS,
  serializeEvent,
  validateRecord,
} from '../../src/domain/event.js';
import { wireEvent } from '../factories/kinesis.js';

const ARRIVAL = 1_705_317_001_000;
const ctx = { arrivalMs: ARRIVAL, maxFutureSkewMs: 86_400_000 };
const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const check = (data: string | Uint8Array) =>
  validateRecord(typeof data === 'string' ? bytes(data) : data, ctx);
const withFields = (o: Record<string, unknown>): string => JSON.stringify({ ...wireEvent(), ...o });
const without = (field: string): string => {
  const o: Record<string, unknown> = { ...wireEvent() };
  delete o[field];
  return JSON.stringify(o);
};

describe('validateRecord accepts', () => {
  it('the documented example and keeps amount as sent plus exact minor units', () => {
    const r = check(
      '{"transaction_id":"TXN1234567","amount":125.50,"currency":"USD","merchant":"Amazon","event_timestamp":1705317000000}',
    );
    expect(r).toEqual({
      ok: true,
      event: {
        transaction_id: 'TXN1234567',
        amount: 125.5,
        amountMinor: 12550,
        currency: 'USD',
        merchant: 'Amazon',
        event_timestamp: 1705317000000,
      },
    });
  });

  it.each([
    ['JPY whole amount', { currency: 'JPY', amount: 1500 }, 1500],
    ['BHD three decimals', { currency: 'BHD', amount: 1.234 }, 1234],
    ['USD whole amount', { amount: 12 }, 1200],
    ['zero', { amount: 0 }, 0],
    ['exponent form 1e2', { amount: 1e2 }, 10000],
    ['max single amount', { amount: 10_000_000_000 }, 1_000_000_000_000],
  ])('%s', (_, over, minor) => {
    const r = check(withFields(over));
    expect(r.ok && r.event.amountMinor).toBe(minor);
  });

  it('exponent-form JSON text like 1.5e2 and 5E-1', () => {
    const r = check(
      '{"transaction_id":"T","amount":1.5e2,"currency":"USD","merchant":"M","event_timestamp":1705317000000}',
    );
    expect(r.ok && r.event.amountMinor).toBe(15000);
    const r2 = check(
      '{"transaction_id":"T","amount":5E-1,"currency":"USD","merchant":"M","event_timestamp":1705317000000}',
    );
    expect(r2.ok && r2.event.amountMinor).toBe(50);
  });

  it('extra unknown fields, ignored', () => {
    const r = check(withFields({ card: { last4: '4242' }, note: null }));
    expect(r.ok).toBe(true);
    expect(r.ok && Object.keys(r.event).sort()).toEqual([
      'amount',
      'amountMinor',
      'currency',
      'event_timestamp',
      'merchant',
      'transaction_id',
    ]);
  });

  it('boundaries: 64-char id, 128-char merchant, timestamp exactly at arrival + skew, 2000-01-01', () => {
    expect(check(withFields({ transaction_id: 'T'.repeat(64) })).ok).toBe(true);
    expect(check(withFields({ merchant: 'M'.repeat(128) })).ok).toBe(true);
    expect(check(withFields({ event_timestamp: ARRIVAL + 86_400_000 })).ok).toBe(true);
    expect(check(withFields({ event_timestamp: 946_684_800_000 })).ok).toBe(true);
  });

  it('multi-byte merchant names (UTF-8)', () => {
    const r = check(withFields({ merchant: 'Café 東京 🍣' }));
    expect(r.ok && r.event.merchant).toBe('Café 東京 🍣');
  });
});

const cases: [string, string | Uint8Array, RejectReason, RegExp][] = [
  [
    'over 1 MiB (checked before anything else)',
    new Uint8Array(MAX_RECORD_BYTES + 1).fill(0xff),
    'record_too_large',
    /1048577 bytes/,
  ],
  ['invalid UTF-8 byte', new Uint8Array([0x7b, 0xff, 0x7d]), 'not_utf8', /UTF-8/],
  ['truncated UTF-8 sequence', new Uint8Array([0x22, 0xe6, 0x9d, 0x22]), 'not_utf8', /UTF-8/],
  ['UTF-16 surrogate encoded in UTF-8', new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), 'not_utf8', /UTF-8/],
  [
    'pretty-printed over several lines (LF)',
    JSON.stringify(wireEvent(), null, 2),
    'line_break',
    /line break \(LF at byte 2\): the archive stores one record per line; send compact JSON/,
  ],
  [
    'a lone CR between fields (Athena splits on CR too)',
    withFields({}).replace(',"amount"', ',\r"amount"'),
    'line_break',
    /CR at byte 32\b/,
  ],
  ['CRLF after the record', `${withFields({})}\r\n`, 'line_break', /CR at byte 116\b/],
  ['the byte position counts UTF-8 bytes', `{"merchant":"é",\n}`, 'line_break', /LF at byte 18\b/],
  ['not JSON', '{"transaction_id": "TXN1', 'not_json', /not JSON/],
  ['empty data', '', 'not_json', /not JSON/],
  ['JSON array', '[1,2]', 'not_object', /got array/],
  ['JSON null', 'null', 'not_object', /got null/],
  ['JSON string', '"hello"', 'not_object', /got string/],
  ['JSON number', '42', 'not_object', /got number/],
  ['missing transaction_id', without('transaction_id'), 'missing_field', /"transaction_id"/],
  ['missing amount', without('amount'), 'missing_field', /"amount"/],
  ['missing currency', without('currency'), 'missing_field', /"currency"/],
  ['missing merchant', without('merchant'), 'missing_field', /"merchant"/],
  ['missing event_timestamp', without('event_timestamp'), 'missing_field', /"event_timestamp"/],
  [
    'transaction_id a number',
    withFields({ transaction_id: 1234567 }),
    'wrong_type',
    /transaction_id must be a string, got number/,
  ],
  ['amount a string', withFields({ amount: '125.50' }), 'wrong_type', /amount must be a number, got string/],
  ['amount null', withFields({ amount: null }), 'wrong_type', /amount must be a number, got null/],
  [
    'currency an object',
    withFields({ currency: { code: 'USD' } }),
    'wrong_type',
    /currency must be a string, got object/,
  ],
  [
    'merchant an array',
    withFields({ merchant: ['Amazon'] }),
    'wrong_type',
    /merchant must be a string, got array/,
  ],
  [
    'event_timestamp a string',
    withFields({ event_timestamp: '2024-01-15T10:30:00Z' }),
    'wrong_type',
    /event_timestamp must be a number/,
  ],
  [
    'amount 1e999 (parses to Infinity)',
    '{"transaction_id":"T","amount":1e999,"currency":"USD","merchant":"M","event_timestamp":1705317000000}',
    'amount_not_finite',
    /not a finite/,
  ],
  [
    'amount -1e999',
    '{"transaction_id":"T","amount":-1e999,"currency":"USD","merchant":"M","event_timestamp":1705317000000}',
    'amount_not_finite',
    /not a finite/,
  ],
  ['negative amount', withFields({ amount: -5 }), 'amount_negative', /negative/],
  [
    '3 decimals in USD',
    withFields({ amount: 1.005 }),
    'amount_too_precise',
    /more than 2 decimals allowed for USD/,
  ],
  [
    'decimals in JPY',
    withFields({ currency: 'JPY', amount: 100.5 }),
    'amount_too_precise',
    /more than 0 decimals allowed for JPY/,
  ],
  ['4 decimals in BHD', withFields({ currency: 'BHD', amount: 1.2345 }), 'amount_too_precise', /3 decimals/],
  ['1e-7 USD', withFields({ amount: 1e-7 }), 'amount_too_precise', /1e-7/],
  // Judged from the text: the double of this is exactly the double of 0.1.
  [
    'digits past a double, from the text',
    withFields({ amount: 0.1 }).replace('"amount":0.1', '"amount":0.1000000000000000000001'),
    'amount_too_precise',
    /amount 0.1000000000000000000001 has more than 2 decimals/,
  ],
  [
    'the same amount key twice (last-wins would count 10.50)',
    `${withFields({ amount: 999 }).slice(0, -1)},"amount":10.5}`,
    'duplicate_key',
    /key "amount" appears more than once/,
  ],
  [
    'a key spelled with an escape is the same key',
    `${withFields({ amount: 999 }).slice(0, -1)},"am\\u006funt":10.5}`,
    'duplicate_key',
    /a key appears more than once/,
  ],
  [
    'a NUL in the merchant',
    withFields({ merchant: 'Ama\u0000zon' }),
    'control_characters',
    /merchant holds a control character \(U\+0000 at position 4\)/,
  ],
  [
    'an escaped newline in the transaction id',
    withFields({ transaction_id: 'TXN\n1' }),
    'control_characters',
    /transaction_id holds a control character \(U\+000A/,
  ],
  [
    'a C1 control (U+009B) in the merchant',
    withFields({ merchant: 'A\u009bB' }),
    'control_characters',
    /U\+009B/,
  ],
  ['over the per-payment cap', withFields({ amount: 10_000_000_000.01 }), 'amount_too_large', /limit/],
  ['1e+21', withFields({ amount: 1e21 }), 'amount_too_large', /1e\+21/],
  ['lower-case currency', withFields({ currency: 'usd' }), 'unknown_currency', /"usd" is not an ISO 4217/],
  ['made-up currency', withFields({ currency: 'XYZ' }), 'unknown_currency', /"XYZ"/],
  ['gold is not a payment currency', withFields({ currency: 'XAU' }), 'unknown_currency', /XAU/],
  [
    'fractional timestamp',
    withFields({ event_timestamp: 1705317000000.5 }),
    'timestamp_not_integer',
    /whole epoch milliseconds/,
  ],
  [
    'timestamp in seconds',
    withFields({ event_timestamp: 1705317000 }),
    'timestamp_too_old',
    /before 2000-01-01/,
  ],
  [
    'timestamp just before 2000',
    withFields({ event_timestamp: 946_684_799_999 }),
    'timestamp_too_old',
    /before 2000/,
  ],
  [
    'timestamp past the skew',
    withFields({ event_timestamp: ARRIVAL + 86_400_001 }),
    'timestamp_in_future',
    /86400001 ms after arrival/,
  ],
  ['empty transaction_id', withFields({ transaction_id: '' }), 'transaction_id_empty', /empty/],
  ['blank transaction_id', withFields({ transaction_id: '  \t' }), 'transaction_id_empty', /empty/],
  [
    '65-char transaction_id',
    withFields({ transaction_id: 'T'.repeat(65) }),
    'transaction_id_too_long',
    /65 characters, the limit is 64/,
  ],
  ['empty merchant', withFields({ merchant: '' }), 'merchant_empty', /empty/],
  ['blank merchant', withFields({ merchant: ' ' }), 'merchant_empty', /empty/],
  ['em-space transaction_id', withFields({ transaction_id: '\u2003' }), 'transaction_id_empty', /empty/],
  ['thin-space and BOM merchant', withFields({ merchant: '\u2009\ufeff' }), 'merchant_empty', /empty/],
  [
    '129-char merchant',
    withFields({ merchant: 'M'.repeat(129) }),
    'merchant_too_long',
    /129 characters, the limit is 128/,
  ],
];

describe('validateRecord rejects', () => {
  it.each(cases)('%s → %s', (_, data, reason, detail) => {
    const r = check(data);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(reason);
    expect(r.detail).toMatch(detail);
    // One line, short: details end up in logs and dead-letter objects.
    expect(r.detail).not.toContain('\n');
    expect(r.detail.length).toBeLessThan(200);
  });

  it('covers every validation reason (total_overflow is the aggregator’s)', () => {
    const covered = new Set(cases.map((c) => c[2]));
    expect(REJECT_REASONS.filter((r) => !covered.has(r))).toEqual(['total_overflow']);
  });

  it('keeps huge offending values out of the detail', () => {
    const r = check(withFields({ currency: 'X'.repeat(10_000) }));
    expect(!r.ok && r.detail.length).toBeLessThan(200);
  });
});

describe('serializeEvent', () => {
  it('writes exactly the five wire fields in a stable order', () => {
    const e = { ...wireEvent(), amountMinor: 12550 };
    expect(serializeEvent(e)).toBe(
      '{"transaction_id":"TXN1234567","amount":125.5,"currency":"USD","merchant":"Amazon","event_timestamp":1705317000000}',
    );
  });
});
