/**
 * The bad-input manifest: every fixture in ./fixtures, named for what is wrong with it, and the
 * reason the aggregator must give when it rejects it (or `null` for the edge cases that look wrong
 * but are valid events and must be counted). The suite fails when a fixture file has no entry here
 * or an entry has no file, so the two cannot drift apart.
 *
 * Fixtures are raw record bytes exactly as a producer would put them on the stream (`.json` for
 * text, `.bin` for bytes that are not UTF-8 or are awkward in an editor). A nested biome.json
 * keeps the formatter away from them: most are invalid on purpose.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RejectReason } from '../../src/domain/event.js';

export interface BadInput {
  file: string;
  /** The reject reason, or null: an odd-looking but valid event the aggregates must include. */
  reason: RejectReason | null;
  /** Why this is (or is not) bad. */
  why: string;
  /**
   * false when Kinesis itself refuses the record (PutRecords limits), so it can never reach the
   * aggregator; the pipeline suite then checks the sender refuses it loudly instead.
   */
  transport?: false;
}

// biome-ignore format: one fixture per line reads as a table
export const BAD_INPUTS: readonly BadInput[] = [
  // record_too_large
  { file: 'record-over-1mib.bin', reason: 'record_too_large', why: 'a valid event padded with whitespace to 1 MiB + 1 byte: over the Kinesis record limit', transport: false },
  // not_utf8
  { file: 'utf8-invalid-byte.bin', reason: 'not_utf8', why: '0xFF never occurs in UTF-8' },
  { file: 'utf8-truncated-multibyte.bin', reason: 'not_utf8', why: 'a 2-byte sequence lead (0xC3) with no continuation byte' },
  { file: 'utf8-overlong-slash.bin', reason: 'not_utf8', why: "overlong encoding of '/' (0xC0 0xAF), a classic filter bypass" },
  { file: 'utf8-lone-surrogate.bin', reason: 'not_utf8', why: 'a UTF-16 surrogate (U+D800) encoded as UTF-8 (CESU-8)' },
  { file: 'latin1-encoded.bin', reason: 'not_utf8', why: "the event encoded as Latin-1 ('é' is the lone byte 0xE9)" },
  { file: 'utf16le-with-bom.bin', reason: 'not_utf8', why: 'the event encoded as UTF-16LE with its BOM (0xFF 0xFE)' },
  { file: 'gzip-compressed-event.bin', reason: 'not_utf8', why: 'a gzip-compressed event: binary, not text' },
  // line_break: the raw archive holds one record per line (Firehose appends a newline per record,
  // line readers split on LF, CR and CRLF), so a record with a line break of its own would reach
  // every reader of the archive as fragments. Checked before JSON: broken JSON over several lines
  // gets this reason too (its fix is the same).
  { file: 'pretty-printed-lf.json', reason: 'line_break', why: 'a valid event pretty-printed over 7 lines (LF), as JSON.stringify(e, null, 2) writes it' },
  { file: 'pretty-printed-crlf.json', reason: 'line_break', why: 'a valid event pretty-printed with CRLF line ends (a Windows producer)' },
  { file: 'pretty-printed-cr-only.json', reason: 'line_break', why: 'a valid event pretty-printed with lone CRs (Athena splits on CR too)' },
  { file: 'cr-between-fields.json', reason: 'line_break', why: 'one lone CR between two fields of a compact event' },
  { file: 'trailing-newline.json', reason: 'line_break', why: 'a compact event with a newline of its own at the end (the archive adds one)' },
  { file: 'trailing-crlf.json', reason: 'line_break', why: 'a compact event ending in CRLF' },
  { file: 'edge-surrounding-whitespace.json', reason: 'line_break', why: 'a valid event with newlines and tabs around it' },
  { file: 'whitespace-only.json', reason: 'line_break', why: 'only spaces, tabs and newlines' },
  { file: 'line-comment.json', reason: 'line_break', why: 'a // comment on its own line before the event' },
  { file: 'ndjson-two-lines.json', reason: 'line_break', why: 'two NDJSON lines in one record' },
  { file: 'raw-newline-in-string.json', reason: 'line_break', why: 'an unescaped newline inside the merchant string' },
  // not_json
  { file: 'truncated-json.json', reason: 'not_json', why: 'the event cut off after 60 characters' },
  { file: 'empty.bin', reason: 'not_json', why: 'zero bytes' },
  { file: 'nan-amount.json', reason: 'not_json', why: 'NaN is a JavaScript literal, not JSON' },
  { file: 'infinity-literal-amount.json', reason: 'not_json', why: 'Infinity is a JavaScript literal, not JSON' },
  { file: 'single-quoted-strings.json', reason: 'not_json', why: 'JSON strings take double quotes only' },
  { file: 'trailing-comma.json', reason: 'not_json', why: 'a comma before the closing brace' },
  { file: 'unquoted-keys.json', reason: 'not_json', why: 'object keys without quotes (JavaScript object literal)' },
  { file: 'two-objects-concatenated.json', reason: 'not_json', why: 'two events in one record, no delimiter' },
  { file: 'hex-amount.json', reason: 'not_json', why: 'amount written as 0x10' },
  { file: 'leading-plus-amount.json', reason: 'not_json', why: 'amount written as +12.5' },
  { file: 'leading-zero-amount.json', reason: 'not_json', why: 'amount written as 012.50' },
  { file: 'decimal-comma-amount.json', reason: 'not_json', why: 'amount written with a decimal comma (12,50)' },
  { file: 'unterminated-string.json', reason: 'not_json', why: 'a string with no closing quote' },
  { file: 'nul-bytes.bin', reason: 'not_json', why: '16 NUL bytes: valid UTF-8, not JSON' },
  { file: 'xml-payload.json', reason: 'not_json', why: 'the payment as XML' },
  { file: 'base64-of-event.json', reason: 'not_json', why: 'the event base64-encoded twice (a common producer mistake)' },
  { file: 'python-repr.json', reason: 'not_json', why: "a Python dict repr: single quotes, Decimal('12.50'), None" },
  // not_object
  { file: 'null.json', reason: 'not_object', why: 'JSON null' },
  { file: 'array-not-object.json', reason: 'not_object', why: 'the event wrapped in an array' },
  { file: 'string-not-object.json', reason: 'not_object', why: 'the event JSON-encoded as a string' },
  { file: 'number-not-object.json', reason: 'not_object', why: 'a bare number' },
  { file: 'boolean-not-object.json', reason: 'not_object', why: 'a bare true' },
  { file: 'deeply-nested-array.json', reason: 'not_object', why: '100,000 nested arrays (parser depth)' },
  // missing_field
  { file: 'empty-object.json', reason: 'missing_field', why: '{}' },
  { file: 'missing-transaction-id.json', reason: 'missing_field', why: 'no transaction_id' },
  { file: 'missing-amount.json', reason: 'missing_field', why: 'no amount' },
  { file: 'missing-currency.json', reason: 'missing_field', why: 'no currency' },
  { file: 'missing-merchant.json', reason: 'missing_field', why: 'no merchant' },
  { file: 'missing-event-timestamp.json', reason: 'missing_field', why: 'no event_timestamp' },
  { file: 'fields-wrapped-in-envelope.json', reason: 'missing_field', why: 'the event nested under "data"' },
  { file: 'fields-camel-case.json', reason: 'missing_field', why: 'transactionId/eventTimestamp instead of snake_case' },
  // wrong_type
  { file: 'amount-string.json', reason: 'wrong_type', why: 'amount as the string "12.50"' },
  { file: 'amount-null.json', reason: 'wrong_type', why: 'amount null (present, so not missing)' },
  { file: 'amount-boolean.json', reason: 'wrong_type', why: 'amount true' },
  { file: 'amount-object-with-value.json', reason: 'wrong_type', why: 'amount as {value, currency}' },
  { file: 'amount-array.json', reason: 'wrong_type', why: 'amount as [12.5]' },
  { file: 'transaction-id-number.json', reason: 'wrong_type', why: 'transaction_id as a number' },
  { file: 'currency-number-code.json', reason: 'wrong_type', why: 'currency as the ISO numeric code 840' },
  { file: 'merchant-null.json', reason: 'wrong_type', why: 'merchant null' },
  { file: 'merchant-object.json', reason: 'wrong_type', why: 'merchant as {name}' },
  { file: 'timestamp-iso-string.json', reason: 'wrong_type', why: 'event_timestamp as an ISO string' },
  { file: 'timestamp-digits-string.json', reason: 'wrong_type', why: 'event_timestamp as a string of digits' },
  // duplicate_key: JSON.parse would keep the last one silently
  { file: 'duplicate-key-last-wins.json', reason: 'duplicate_key', why: 'amount twice: 12.5 then "12.50"' },
  { file: 'duplicate-key-both-numbers.json', reason: 'duplicate_key', why: 'amount 999 then 10.5: last-wins would count 10.50' },
  { file: 'duplicate-key-escaped-spelling.json', reason: 'duplicate_key', why: 'amount, then "am\\u006funt": the same key once unescaped' },
  // control_characters
  { file: 'merchant-control-character.json', reason: 'control_characters', why: 'a NUL (\\u0000) inside the merchant' },
  { file: 'transaction-id-escaped-newline.json', reason: 'control_characters', why: 'an escaped newline inside the transaction id' },
  { file: 'merchant-c1-control.json', reason: 'control_characters', why: 'U+0085 (NEL), a C1 control character' },
  // amount_not_finite
  { file: 'amount-1e999-overflows-to-infinity.json', reason: 'amount_not_finite', why: 'valid JSON that parses to Infinity' },
  { file: 'amount-minus-1e999.json', reason: 'amount_not_finite', why: 'valid JSON that parses to -Infinity' },
  // amount_negative
  { file: 'amount-negative.json', reason: 'amount_negative', why: '-12.5' },
  { file: 'amount-negative-one-cent.json', reason: 'amount_negative', why: '-0.01' },
  // amount_too_precise
  { file: 'amount-three-decimals-usd.json', reason: 'amount_too_precise', why: '12.505 USD: USD has 2 decimals' },
  { file: 'amount-fraction-jpy.json', reason: 'amount_too_precise', why: '1500.5 JPY: JPY has none' },
  { file: 'amount-four-decimals-bhd.json', reason: 'amount_too_precise', why: '1.2345 BHD: BHD has 3' },
  { file: 'amount-float-artifact.json', reason: 'amount_too_precise', why: '0.30000000000000004, a float sum sent as is' },
  { file: 'amount-tiny-exponent.json', reason: 'amount_too_precise', why: '1e-7 USD' },
  { file: 'amount-beyond-double-precision.json', reason: 'amount_too_precise', why: '0.1000000000000000000001 USD: parses to the double of 0.1; the text has 22 decimals' },
  { file: 'amount-exponent-too-precise.json', reason: 'amount_too_precise', why: '1.23456e2 USD is 123.456: a tenth of a cent, written with an exponent' },
  // amount_too_large
  { file: 'amount-huge-number.json', reason: 'amount_too_large', why: 'a 30-digit number' },
  { file: 'amount-1e21.json', reason: 'amount_too_large', why: '1e21 (prints in exponent form)' },
  { file: 'amount-over-per-payment-cap.json', reason: 'amount_too_large', why: '10,000,000,000.01 USD, one cent over the per-payment cap' },
  { file: 'amount-2-pow-53-plus-1.json', reason: 'amount_too_large', why: '9007199254740993: not even representable (parses as 2^53)' },
  // unknown_currency
  { file: 'currency-lowercase.json', reason: 'unknown_currency', why: '"usd"' },
  { file: 'currency-unknown-code.json', reason: 'unknown_currency', why: '"XYZ"' },
  { file: 'currency-gold-xau.json', reason: 'unknown_currency', why: 'XAU: gold has no minor unit, not a payment currency' },
  { file: 'currency-padded.json', reason: 'unknown_currency', why: '" USD" with a leading space' },
  { file: 'currency-symbol.json', reason: 'unknown_currency', why: '"$"' },
  { file: 'currency-empty.json', reason: 'unknown_currency', why: 'empty string' },
  { file: 'currency-numeric-string.json', reason: 'unknown_currency', why: '"840", the numeric code as a string' },
  { file: 'currency-prototype-key.json', reason: 'unknown_currency', why: '"constructor": a prototype key must not look up a table entry' },
  { file: 'currency-withdrawn-dem.json', reason: 'unknown_currency', why: 'DEM, withdrawn in 2002' },
  // timestamp_not_integer
  { file: 'timestamp-fractional-ms.json', reason: 'timestamp_not_integer', why: 'half a millisecond' },
  // timestamp_too_old
  { file: 'timestamp-seconds-not-ms.json', reason: 'timestamp_too_old', why: 'epoch seconds: a valid number, but 1970-01-20 as milliseconds' },
  { file: 'timestamp-zero.json', reason: 'timestamp_too_old', why: '0 (the epoch)' },
  { file: 'timestamp-negative.json', reason: 'timestamp_too_old', why: '-1' },
  { file: 'timestamp-1999.json', reason: 'timestamp_too_old', why: 'one millisecond before 2000-01-01' },
  // timestamp_in_future
  { file: 'timestamp-microseconds-not-ms.json', reason: 'timestamp_in_future', why: 'epoch microseconds: year 55,000 as milliseconds' },
  { file: 'timestamp-year-2200.json', reason: 'timestamp_in_future', why: '2200-01-01, past any clock skew' },
  // transaction_id_empty / transaction_id_too_long
  { file: 'transaction-id-empty.json', reason: 'transaction_id_empty', why: '""' },
  { file: 'transaction-id-whitespace.json', reason: 'transaction_id_empty', why: 'space, tab and an ideographic space' },
  { file: 'transaction-id-65-chars.json', reason: 'transaction_id_too_long', why: '65 characters, limit 64' },
  // merchant_empty / merchant_too_long
  { file: 'merchant-empty.json', reason: 'merchant_empty', why: '""' },
  { file: 'merchant-nbsp-only.json', reason: 'merchant_empty', why: 'two no-break spaces' },
  { file: 'merchant-129-chars.json', reason: 'merchant_too_long', why: '129 characters, limit 128' },
  // Valid: odd-looking events that must be counted, not rejected.
  { file: 'edge-bom-prefixed.json', reason: null, why: 'a UTF-8 BOM before the JSON (the decoder drops it)' },
  { file: 'edge-negative-zero-amount.json', reason: null, why: 'amount -0 is 0, not negative' },
  { file: 'edge-exponent-amount.json', reason: null, why: 'amount 1.5e2 is 150.00' },
  { file: 'edge-trailing-zeros-amount.json', reason: null, why: '12.500 USD: trailing zeros are not precision' },
  { file: 'edge-jpy-point-zero.json', reason: null, why: '1500.0 JPY, as float-printing producers write it' },
  { file: 'edge-unicode-escapes.json', reason: null, why: 'merchant written with \\u escapes and a surrogate pair' },
  { file: 'edge-extra-fields.json', reason: null, why: 'unknown extra fields are ignored' },
  { file: 'edge-surrounding-spaces-tabs.json', reason: null, why: 'spaces and tabs around the JSON (whitespace, not line breaks)' },
  { file: 'edge-deeply-nested-extra-field.json', reason: null, why: 'an extra field nested 10,000 arrays deep' },
];

export const FIXTURES_DIR = new URL('./fixtures/', import.meta.url).pathname;

export const fixtureBytes = (file: string): Buffer => readFileSync(join(FIXTURES_DIR, file));

/** Fixture files on disk (the nested biome.json is configuration, not a fixture). */
export const fixtureFiles = (): string[] =>
  readdirSync(FIXTURES_DIR)
    .filter((f) => f !== 'biome.json')
    .sort();
