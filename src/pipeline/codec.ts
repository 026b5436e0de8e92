/**
 * Encoding of output records and decoding of the objects Firehose writes to S3.
 *
 * We write newline-terminated JSON (NDJSON). Firehose, though, concatenates records exactly as
 * they were put, so objects may also hold `{..}{..}{..}` with no delimiter (raw events from any
 * producer, or aggregates from an older writer). The decoder accepts both, and whitespace between
 * objects, with a small scanner that tracks string/escape state and bracket depth, calling
 * JSON.parse once per top-level value.
 *
 * Damage never throws: an empty, truncated or corrupt object yields a typed DecodeError naming
 * the object key, and every record before the damage is still returned. Hostile objects cost
 * bounded memory and time: a value longer than any record the pipeline can produce (Kinesis caps a
 * record at 1 MiB) is reported as `record_too_large` the moment it passes that length and skipped
 * to the next line without being kept, at decompression speed. A key ending in `.gz` whose bytes
 * are not gzip is read as text but reported (`not_gzip`): Firehose never writes that. Bad JSON (a record cut
 * off or garbled in the middle of the text) costs only itself: the decoder resyncs at the next
 * record and returns the good ones after it too (see JsonStreamDecoder). Gzip damage ends the
 * text; for corrupt gzip "before" is as far as inflate can tell: the CRC is only checked at the
 * end, so the records just before the reported offset are the ones to distrust.
 */
import { constants, createGunzip, gunzipSync } from 'node:zlib';
import { MAX_RECORD_BYTES } from '../domain/event.js';

export type DecodeErrorKind =
  | 'empty'
  | 'truncated_gzip'
  | 'corrupt_gzip'
  | 'not_gzip'
  | 'not_json'
  | 'truncated_json'
  | 'record_too_large';

/**
 * No record the pipeline writes or reads can be longer: a Kinesis record's data is at most 1 MiB,
 * and a character takes at least one byte. A value past this is damage, never a record.
 */
export const MAX_RECORD_CHARS = MAX_RECORD_BYTES;

export interface DecodeError {
  kind: DecodeErrorKind;
  /** The S3 object key (or whatever name the caller gave the bytes). */
  key: string;
  /** One line: what is wrong and where. */
  message: string;
  /**
   * Where the damage starts: for `truncated_gzip`/`corrupt_gzip` a byte offset in the compressed
   * object, for `not_json`/`truncated_json` a character offset in the decoded text, 0 for `empty`.
   */
  offset: number;
  /**
   * JSON damage only: how many damaged stretches the decoder skipped over (≥ 1; the first is the
   * one `offset` and `message` describe). Records between and after them were still returned.
   */
  skipped?: number;
}

export interface DecodeResult {
  records: unknown[];
  error?: DecodeError;
}

/** Newline-terminated JSON, one record per line (each line ends in `\n`, the last one too). */
export function encodeNdjson(records: readonly unknown[]): string {
  let out = '';
  for (const r of records) out += `${JSON.stringify(r)}\n`;
  return out;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const isWs = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9 || c === 0xfeff;

/**
 * Characters that may appear outside strings inside a JSON value, other than brackets and quotes:
 * 1 = a token character (`,` `:` digits, `-+.eE`, the letters of true/false/null), 2 = whitespace.
 * Anything else there (`_`, `i`, `m`, upper case, non-ASCII…) means we lost track of the string
 * boundaries, which is what a record cut off inside a string does to the records after it.
 */
const BARE = new Uint8Array(128);
for (const ch of ',:0123456789-+.eEtruefalsn') BARE[ch.charCodeAt(0)] = 1;
for (const c of [32, 10, 13, 9]) BARE[c] = 2;

const COMMA = 44;
const COLON = 58;
const OPEN_SQUARE = 91;
const CLOSE_SQUARE = 93;
const OPEN_CURLY = 123;
const CLOSE_CURLY = 125;
const QUOTE = 34;

/**
 * Incremental decoder: push text chunks (any split, even inside a string or an escape), get the
 * records completed so far. Memory is bounded by the largest single record, not the object.
 *
 * Damage does not end the object: after a bad value the decoder RESYNCS at the next `{` that
 * starts a new top-level object and carries on, so one broken record costs that record only.
 * `error` keeps the first problem (with its offset) and counts the damaged stretches skipped.
 *
 * A value is known to be bad when JSON.parse rejects it, or earlier, while it is still open, when
 * it cannot be valid JSON any more: an opening bracket that does not follow `:` `,` or `[` (a
 * record cut off and the next one glued on: `{"a":1}{` or `"amount":1.5{`), or a character that
 * may not appear outside a string (a record cut inside a string flips the quote parity, so the
 * next records' keys show up outside strings). Catching it early keeps a cut record from
 * swallowing the rest of the object (and memory bounded); what slips through is caught by
 * JSON.parse or by `end()`, which resyncs inside an unfinished tail too.
 *
 * Resync heuristic (documented because it can be misled): candidates are tried at every `{`
 * after the start of the bad value, in order, so a good record glued onto a cut one (e.g.
 * `{"id":"X","amount":` + `{"id":"Y",…}`, where Y parses as X's nested value) is never skipped.
 * A `{` inside a string of the broken record, or a nested object of it, can also look like a
 * start; such a candidate is accepted only if it parses AND is followed by another record (`{`
 * or `[`, after optional whitespace) or the end of the object, which a nested value (followed by
 * `,` `}` `]`) or a piece of a string (followed by more string) almost never is. What can still
 * pass: a nested object that is the last complete thing before the cut (`{"a":1,"m":{"k":1}` +
 * next record), or a string of the broken record holding a whole object followed by `{`
 * (`"x {} {"`). Payment events and aggregates are flat, and a stray record like that then fails
 * the caller's own validation. The price of the strict follow rule: a good record right after
 * damage and right before garbage is skipped with the damage.
 */
export class JsonStreamDecoder {
  private buf = '';
  /** Absolute character offset of buf[0] in the whole text. */
  private base = 0;
  /** Next index of buf to scan. */
  private pos = 0;
  private depth = 0;
  private inString = false;
  /** Last non-whitespace character outside strings in the open value (QUOTE for a string's end). */
  private prev = 0;
  /** Index in buf where the current top-level value starts (valid while depth > 0). */
  private valueStart = 0;
  /** After damage, at depth 0: looking for the next `{`, ignoring everything else. */
  private skipping = false;
  /** The open value started at a resync point: it must pass the follow check before it counts. */
  private candidate = false;
  /** Inside a damaged stretch (from the damage to the next accepted record). */
  private inDamage = false;
  private sawContent = false;
  private first: DecodeError | undefined;
  /** Damaged stretches skipped so far. */
  private regions = 0;
  /** Records returned so far, for messages. */
  count = 0;
  /** Inside a value past the record limit: dropping text up to the next newline. */
  private oversized = false;
  /** The open resync candidate starts a line (its `{` follows a newline). */
  private candidateAtLineStart = false;
  /** The text dropped so far ended with a newline (so a `{` at buf[0] starts a line). */
  private afterNewline = true;

  constructor(
    readonly key: string,
    /** Longest value kept (tests lower it); longer is `record_too_large` and skipped. */
    private readonly maxRecordChars: number = MAX_RECORD_CHARS,
  ) {}

  /** The first damage seen so far (if any), with how many damaged stretches were skipped. */
  get error(): DecodeError | undefined {
    if (this.first === undefined || this.regions === 0) return this.first;
    if (this.regions === 1) return { ...this.first, skipped: this.regions };
    return {
      ...this.first,
      skipped: this.regions,
      message: `${this.first.message}; ${this.regions - 1} more damaged stretch(es) skipped`,
    };
  }

  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    if (chunk.length === 0) return out;
    let text = chunk;
    if (this.oversized) {
      // Nothing of an oversized value is kept: look for the line that ends it, drop the rest.
      const nl = text.indexOf('\n');
      this.base += nl === -1 ? text.length : nl + 1;
      if (nl === -1) return out;
      this.oversized = false;
      text = text.slice(nl + 1);
    }
    this.buf = this.buf.length === 0 ? text : this.buf + text;
    this.scan(false, out);
    return out;
  }

  /**
   * Ends the input: returns the records only the end could complete (a resync candidate waiting
   * to see what follows it, or good records hidden in an unfinished tail) and the error, if any:
   * a value still open is `truncated_json`, an object with no content `empty`.
   */
  end(): { records: unknown[]; error?: DecodeError } {
    const out: unknown[] = [];
    for (;;) {
      this.scan(true, out);
      if (this.depth === 0) break;
      // scan() left buf starting at the unfinished value.
      this.damage(
        'truncated_json',
        this.base,
        `ends inside record ${this.count + 1} (${this.buf.length} characters of it present)`,
      );
      // The unfinished value may hide complete records (glued onto it after a cut that no
      // check caught): resync inside it. buf shrinks every round, so this ends.
      this.restartAfter(0);
    }
    this.buf = '';
    if (this.first === undefined && !this.sawContent) {
      // Not damage to skip over: nothing is there at all.
      this.first = {
        kind: 'empty',
        key: this.key,
        offset: 0,
        message: `${this.key}: object is empty (at offset 0)`,
      };
    }
    const error = this.error;
    return error === undefined ? { records: out } : { records: out, error };
  }

  /** Scans buf from pos; completed records go to `out`. `final`: no more input will come. */
  private scan(final: boolean, out: unknown[]): void {
    const buf = this.buf;
    const len = buf.length;
    let i = this.pos;
    let depth = this.depth;
    let inString = this.inString;
    let start = this.valueStart;
    let prev = this.prev;
    // Marks the open value bad and goes back to look for the next `{` after its start.
    const resync = (kind: DecodeErrorKind, what: string): void => {
      this.damage(kind, this.base + start, what);
      i = start + 1;
      depth = 0;
      inString = false;
      this.skipping = true;
    };
    const limit = this.maxRecordChars;
    // The open value is longer than any record can be: report it, keep none of it, and go on
    // after the end of its line (or drop input until one comes). Returns false when that is past buf.
    const oversize = (): boolean => {
      this.damage(
        'record_too_large',
        this.base + start,
        `record ${this.count + 1} is longer than ${limit} characters (no record can be): skipped to the end of its line`,
      );
      depth = 0;
      inString = false;
      this.candidate = false;
      const nl = buf.indexOf('\n', start + limit);
      if (nl === -1) {
        this.oversized = true;
        i = len;
        return false;
      }
      this.skipping = true;
      i = nl + 1;
      return true;
    };
    while (i < len) {
      if (depth > 0 && i - start > limit) {
        if (oversize()) continue;
        break;
      }
      if (inString) {
        // Jump to the next quote; it closes the string unless preceded by an odd run of backslashes.
        const q = buf.indexOf('"', i);
        if (q === -1) {
          i = len;
          if (len - start > limit && oversize()) continue;
          break;
        }
        let k = q - 1;
        while (buf.charCodeAt(k) === 92) k--;
        if ((q - 1 - k) % 2 === 0) {
          inString = false;
          prev = QUOTE;
        }
        i = q + 1;
        continue;
      }
      if (depth === 0) {
        if (this.skipping) {
          const j = buf.indexOf('{', i);
          if (j === -1) {
            i = len;
            break;
          }
          this.skipping = false;
          this.candidate = true;
          this.candidateAtLineStart = j === 0 ? this.afterNewline : buf.charCodeAt(j - 1) === 10;
          start = j;
          depth = 1;
          prev = OPEN_CURLY;
          i = j + 1;
          continue;
        }
        const c = buf.charCodeAt(i);
        if (isWs(c)) {
          i++;
          continue;
        }
        this.sawContent = true;
        if (c === OPEN_CURLY && !this.candidate) {
          // NDJSON fast path: a whole line that JSON.parse accepts is exactly the record the
          // scanner below would find (valid JSON passes every one of its checks), so it skips the
          // character walk. Anything else (no newline yet, glued records, damage) takes the walk.
          const nl = buf.indexOf('\n', i);
          if (nl !== -1 && nl - i <= limit && buf.charCodeAt(nl - 1) === CLOSE_CURLY) {
            let value: unknown;
            try {
              value = JSON.parse(buf.slice(i, nl));
            } catch {
              value = undefined;
            }
            if (value !== undefined) {
              out.push(value);
              this.count++;
              this.inDamage = false;
              i = nl + 1;
              continue;
            }
          }
        }
        if (c === OPEN_CURLY || c === OPEN_SQUARE) {
          start = i;
          depth = 1;
          prev = c;
          i++;
          continue;
        }
        this.damage(
          'not_json',
          this.base + i,
          `unexpected ${JSON.stringify(buf[i])} where a JSON object should start`,
        );
        this.skipping = true;
        i++;
        continue;
      }
      const c = buf.charCodeAt(i);
      if (c === QUOTE) {
        inString = true;
        i++;
        continue;
      }
      if (c === OPEN_CURLY || c === OPEN_SQUARE) {
        // Inside a value a bracket only opens after `:` `,` or `[`; `}{` & co. mean a cut record.
        if (prev !== COLON && prev !== COMMA && prev !== OPEN_SQUARE) {
          resync(
            'not_json',
            `record ${this.count + 1} is cut off or corrupt (unexpected ${JSON.stringify(buf[i])} inside it)`,
          );
          continue;
        }
        depth++;
        prev = c;
      } else if (c === CLOSE_CURLY || c === CLOSE_SQUARE) {
        depth--;
        prev = c;
        if (depth === 0) {
          if (this.candidate) {
            // A resync candidate counts only if what follows could follow a top-level record,
            // or if it is a whole line of its own: in newline-delimited objects (the raw archive)
            // a damaged record ends at its line, and the line after it may be damaged too.
            let j = i + 1;
            let newline = false;
            while (j < len && isWs(buf.charCodeAt(j))) {
              if (buf.charCodeAt(j) === 10) newline = true;
              j++;
            }
            const ownLine = this.candidateAtLineStart && (newline || (j === len && final));
            if (j === len && !final && !ownLine) {
              // Can't tell yet: keep the value and look again when more text (or the end) comes.
              depth = 1;
              break;
            }
            const f = j < len ? buf.charCodeAt(j) : -1;
            // A line break after it means newline-delimited records, where a record is a whole
            // line: a value that starts inside a damaged line is a piece of that line (`{"":"{}`
            // cut at its end would otherwise yield `{}`), whatever follows.
            if (!ownLine && (newline || (f !== -1 && f !== OPEN_CURLY && f !== OPEN_SQUARE))) {
              resync('not_json', 'a piece of a damaged record looked like a record');
              continue;
            }
          }
          let value: unknown;
          try {
            value = JSON.parse(buf.slice(start, i + 1));
          } catch (e) {
            resync('not_json', `record ${this.count + 1} is not valid JSON: ${(e as Error).message}`);
            continue;
          }
          out.push(value);
          this.count++;
          this.candidate = false;
          this.inDamage = false;
        }
      } else {
        const t = c < 128 ? (BARE[c] as number) : c === 0xfeff ? 2 : 0;
        if (t === 0) {
          resync(
            'not_json',
            `record ${this.count + 1} is cut off or corrupt (unexpected ${JSON.stringify(buf[i])} inside it)`,
          );
          continue;
        }
        if (t === 1) prev = c;
      }
      i++;
    }
    if (depth === 0) {
      // Nothing pending: drop the scanned text.
      if (len > 0) this.afterNewline = buf.charCodeAt(len - 1) === 10;
      this.base += len;
      this.buf = '';
      this.pos = 0;
      this.valueStart = 0;
    } else {
      // Keep only the unfinished value.
      this.base += start;
      this.buf = buf.slice(start);
      this.pos = i - start;
      this.valueStart = 0;
    }
    this.depth = depth;
    this.inString = inString;
    this.prev = prev;
  }

  /** Goes back to buf[at + 1] and looks for the next `{` from there. */
  private restartAfter(at: number): void {
    this.pos = at + 1;
    this.depth = 0;
    this.inString = false;
    this.skipping = true;
  }

  /** Records the damage: the first one is kept for the report, later ones only counted. */
  private damage(kind: DecodeErrorKind, offset: number, what: string): void {
    if (!this.inDamage) this.regions++;
    this.inDamage = true;
    if (this.first !== undefined) return;
    // One line, as documented: JSON.parse messages can quote the record, newlines and all.
    const line = what.replace(
      /[\u0000-\u001f\u007f]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    this.first = { kind, key: this.key, offset, message: `${this.key}: ${line} (at offset ${offset})` };
  }
}

/** Decodes one whole object's bytes (gzip or not) into its records; never throws. */
export function decodeObject(bytes: Uint8Array, key: string): DecodeResult {
  if (bytes.length === 0) {
    return {
      records: [],
      error: { kind: 'empty', key, offset: 0, message: `${key}: object is empty (0 bytes)` },
    };
  }
  let text: Uint8Array = bytes;
  let gzipError: DecodeError | undefined;
  if (isGzip(bytes)) {
    const g = gunzipSalvage(bytes, key);
    text = g.data;
    gzipError = g.error;
  } else gzipError = notGzip(key);
  const d = new JsonStreamDecoder(key);
  const records = d.push(new TextDecoder('utf-8').decode(text));
  const tail = d.end();
  // The end can complete records too (one resynced onto, waiting to see what follows it).
  for (const r of tail.records) records.push(r);
  // With gzip damage the gzip error is the cause: a cut-off stream ends inside a record, and a
  // corrupt one may inflate into some garbage before zlib notices (so a not_json there is a symptom).
  const error = gzipError ?? tail.error;
  return error === undefined ? { records } : { records, error };
}

/**
 * Gunzips as much as possible: on damage, the output of the longest prefix that still inflates.
 * With `maxOutput`, a larger output throws zlib's ERR_BUFFER_TOO_LARGE instead (the caller streams).
 */
function gunzipSalvage(
  bytes: Uint8Array,
  key: string,
  maxOutput?: number,
): { data: Uint8Array; error?: DecodeError } {
  const inflate = (b: Uint8Array, flush?: number): Uint8Array =>
    gunzipSync(b, {
      ...(flush === undefined ? {} : { finishFlush: flush }),
      ...(maxOutput === undefined ? {} : { maxOutputLength: maxOutput }),
    });
  const tooLarge = (e: unknown): boolean => (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
  try {
    return { data: inflate(bytes) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    if (tooLarge(e)) throw e;
    if (code === 'Z_BUF_ERROR') {
      // Cut off: inflate what is there (sync flush returns the partial output instead of throwing).
      let data: Uint8Array = new Uint8Array(0);
      try {
        data = inflate(bytes, constants.Z_SYNC_FLUSH);
      } catch (e2) {
        if (tooLarge(e2)) throw e2;
        // A header cut short has no output to salvage.
      }
      return {
        data,
        error: {
          kind: 'truncated_gzip',
          key,
          offset: bytes.length,
          message: `${key}: gzip data ends early after ${bytes.length} bytes (${message})`,
        },
      };
    }
    // Corrupt: binary-search the longest prefix that still inflates; the damage is just after it.
    let lo = 0;
    let hi = bytes.length;
    let best: Uint8Array = new Uint8Array(0);
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      try {
        best = inflate(bytes.subarray(0, mid), constants.Z_SYNC_FLUSH);
        lo = mid;
      } catch (e2) {
        if (tooLarge(e2)) throw e2;
        hi = mid - 1;
      }
    }
    if (lo > 0 && best.length === 0) {
      try {
        best = inflate(bytes.subarray(0, lo), constants.Z_SYNC_FLUSH);
      } catch (e2) {
        if (tooLarge(e2)) throw e2;
        best = new Uint8Array(0);
      }
    }
    return {
      data: best,
      error: {
        kind: 'corrupt_gzip',
        key,
        offset: lo,
        message: `${key}: gzip data is corrupt near byte ${lo} (${message})`,
      },
    };
  }
}

/**
 * A gzip object up to this size (compressed) is read whole and inflated in one gunzipSync call:
 * for the small objects Firehose writes every minute (a few KB) the streaming inflater's per-chunk
 * machinery cost 3.7× the inflation itself. Larger objects stream, so memory stays bounded.
 */
export const WHOLE_GZIP_MAX_BYTES = 256 * 1024;
/**
 * ...and inflate to at most this much in one piece (a gzip bomb of 256 KB can claim gigabytes):
 * past it, the bytes already here are streamed like a large object.
 */
export const WHOLE_GZIP_MAX_OUTPUT = 8 * 1024 * 1024;

/**
 * Streams one object (e.g. an S3 GetObject body) through the decoder with bounded memory:
 * gunzips when the first bytes are the gzip magic, and hands records to `onRecords` as they
 * complete. Never throws for damaged data (errors from `chunks` itself or `onRecords` propagate).
 * `sizeHint` (the size the listing gave): a small gzip object is read whole and inflated at once
 * (see WHOLE_GZIP_MAX_BYTES); same records, same errors.
 */
export async function decodeObjectStream(
  chunks: AsyncIterable<Uint8Array>,
  key: string,
  onRecords: (records: unknown[]) => void | Promise<void>,
  sizeHint?: number,
): Promise<{ count: number; error?: DecodeError }> {
  const d = new JsonStreamDecoder(key);
  const text = new TextDecoder('utf-8');
  const deliver = async (s: string): Promise<void> => {
    const r = d.push(s);
    if (r.length > 0) await onRecords(r);
  };
  const it = chunks[Symbol.asyncIterator]();
  // Peek until we know whether it's gzip (a first chunk may be a single byte).
  let head: Uint8Array = new Uint8Array(0);
  let done = false;
  while (head.length < 2 && !done) {
    const n = await it.next();
    if (n.done) done = true;
    else head = head.length === 0 ? n.value : concat(head, n.value);
  }
  if (head.length === 0 && done) {
    return {
      count: 0,
      error: { kind: 'empty', key, offset: 0, message: `${key}: object is empty (0 bytes)` },
    };
  }
  // Chunks already taken from `it` (a small object read whole that turned out too big to inflate at once).
  let taken: Uint8Array[] = [];
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    for (const c of taken) yield c;
    taken = [];
    if (done) return;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  let gzipError: DecodeError | undefined;
  if (isGzip(head) && sizeHint !== undefined && sizeHint <= WHOLE_GZIP_MAX_BYTES) {
    // Read it whole (bounded: more bytes than promised switch to streaming), inflate at once.
    let size = head.length;
    while (!done && size <= WHOLE_GZIP_MAX_BYTES) {
      const n = await it.next();
      if (n.done) done = true;
      else {
        taken.push(n.value);
        size += n.value.length;
      }
    }
    if (done) {
      const bytes = taken.length === 0 ? head : concat(head, ...taken);
      let g: { data: Uint8Array; error?: DecodeError } | undefined;
      try {
        g = gunzipSalvage(bytes, key, WHOLE_GZIP_MAX_OUTPUT);
      } catch {
        // Inflates past WHOLE_GZIP_MAX_OUTPUT: stream it below.
      }
      if (g !== undefined) {
        taken = [];
        await deliver(text.decode(g.data));
        const tail = d.end();
        if (tail.records.length > 0) await onRecords(tail.records);
        const error = g.error ?? tail.error;
        return error === undefined ? { count: d.count } : { count: d.count, error };
      }
    }
  }
  if (!isGzip(head)) gzipError = notGzip(key);
  else {
    const gunzip = createGunzip();
    let consumed = 0;
    const feed = (async () => {
      try {
        for await (const c of rest()) {
          consumed += c.length;
          if (gunzip.destroyed) return;
          if (!gunzip.write(c)) {
            // 'close' too: a consumer that stops early destroys the gunzip and 'drain' never comes.
            // Whichever fires first removes the other, or every wait would leave one listener
            // behind (MaxListenersExceededWarning after 10 waits on a large object).
            await new Promise<void>((r) => {
              const done = (): void => {
                gunzip.off('drain', done);
                gunzip.off('close', done);
                r();
              };
              gunzip.once('drain', done);
              gunzip.once('close', done);
            });
          }
        }
        gunzip.end();
      } catch (e) {
        gunzip.destroy(e as Error);
      }
    })();
    try {
      // Bad JSON does not stop the read: the decoder resyncs, so the records after it count too.
      for await (const out of gunzip) await deliver(text.decode(out as Uint8Array, { stream: true }));
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code === 'Z_BUF_ERROR') {
        gzipError = {
          kind: 'truncated_gzip',
          key,
          offset: consumed,
          message: `${key}: gzip data ends early after ${consumed} bytes (${err.message})`,
        };
      } else if (typeof err.code === 'string' && err.code.startsWith('Z_')) {
        gzipError = {
          kind: 'corrupt_gzip',
          key,
          offset: gunzip.bytesWritten,
          message: `${key}: gzip data is corrupt near byte ${gunzip.bytesWritten} (${err.message})`,
        };
      } else {
        throw e;
      }
    } finally {
      gunzip.destroy();
      await feed;
    }
  }
  if (!isGzip(head)) for await (const c of rest()) await deliver(text.decode(c, { stream: true }));
  await deliver(text.decode());
  const tail = d.end();
  if (tail.records.length > 0) await onRecords(tail.records);
  const error = gzipError ?? tail.error;
  return error === undefined ? { count: d.count } : { count: d.count, error };
}

/** A `.gz` key whose bytes are not gzip: read as text all the same, but never silently. */
function notGzip(key: string): DecodeError | undefined {
  if (!key.endsWith('.gz')) return undefined;
  return {
    kind: 'not_gzip',
    key,
    offset: 0,
    message: `${key}: the key ends in .gz but the object is not gzip (read as plain text)`,
  };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
