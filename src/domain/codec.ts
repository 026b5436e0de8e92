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
 * the object key, and every record before the damage is still returned. (For corrupt gzip "before"
 * is as far as inflate can tell: the CRC is only checked at the end, so the records just before
 * the reported offset are the ones to distrust.)
 */
import { constants, createGunzip, gunzipSync } from 'node:zlib';

export type DecodeErrorKind = 'empty' | 'truncated_gzip' | 'corrupt_gzip' | 'not_json' | 'truncated_json';

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
 * Incremental decoder: push text chunks (any split, even inside a string or an escape), get the
 * records completed so far. Memory is bounded by the largest single record, not the object.
 * After the first error it ignores further input; `end()` reports the error (or truncation).
 */
export class JsonStreamDecoder {
  private buf = '';
  /** Absolute character offset of buf[0] in the whole text. */
  private base = 0;
  /** Next index of buf to scan. */
  private pos = 0;
  private depth = 0;
  private inString = false;
  /** Index in buf where the current top-level value starts (valid while depth > 0). */
  private valueStart = 0;
  private sawContent = false;
  private failure: DecodeError | undefined;
  /** Records returned so far, for messages. */
  count = 0;

  constructor(readonly key: string) {}

  get error(): DecodeError | undefined {
    return this.failure;
  }

  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    if (this.failure !== undefined || chunk.length === 0) return out;
    const buf = this.buf.length === 0 ? chunk : this.buf + chunk;
    const len = buf.length;
    let i = this.pos;
    let depth = this.depth;
    let inString = this.inString;
    let start = this.valueStart;
    while (i < len) {
      if (inString) {
        // Jump to the next quote; it closes the string unless preceded by an odd run of backslashes.
        const q = buf.indexOf('"', i);
        if (q === -1) {
          i = len;
          break;
        }
        let k = q - 1;
        while (buf.charCodeAt(k) === 92) k--;
        if ((q - 1 - k) % 2 === 0) inString = false;
        i = q + 1;
        continue;
      }
      const c = buf.charCodeAt(i);
      if (depth === 0) {
        if (isWs(c)) {
          i++;
          continue;
        }
        this.sawContent = true;
        if (c === 123 || c === 91) {
          start = i;
          depth = 1;
          i++;
          continue;
        }
        this.fail(
          'not_json',
          this.base + i,
          `unexpected ${JSON.stringify(buf[i])} where a JSON object should start`,
        );
        return out;
      }
      if (c === 34) inString = true;
      else if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) {
          const text = buf.slice(start, i + 1);
          try {
            out.push(JSON.parse(text));
            this.count++;
          } catch (e) {
            this.fail(
              'not_json',
              this.base + start,
              `record ${this.count + 1} is not valid JSON: ${(e as Error).message}`,
            );
            return out;
          }
        }
      }
      i++;
    }
    if (depth === 0) {
      // Nothing pending: drop the scanned text.
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
    return out;
  }

  /** Ends the input: reports truncation of a value still open, or an object with no content. */
  end(): { records: unknown[]; error?: DecodeError } {
    if (this.failure === undefined) {
      if (this.depth > 0) {
        this.fail(
          'truncated_json',
          this.base + this.valueStart,
          `ends inside record ${this.count + 1} (${this.buf.length} characters of it present)`,
        );
      } else if (!this.sawContent) {
        this.fail('empty', 0, 'object is empty');
      }
    }
    return this.failure === undefined ? { records: [] } : { records: [], error: this.failure };
  }

  private fail(kind: DecodeErrorKind, offset: number, what: string): void {
    this.failure = { kind, key: this.key, offset, message: `${this.key}: ${what} (at offset ${offset})` };
    this.buf = '';
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
  }
  const d = new JsonStreamDecoder(key);
  const records = d.push(new TextDecoder('utf-8').decode(text));
  const tail = d.end();
  // With gzip damage the gzip error is the cause: a cut-off stream ends inside a record, and a
  // corrupt one may inflate into some garbage before zlib notices (so a not_json there is a symptom).
  const error = gzipError ?? tail.error;
  return error === undefined ? { records } : { records, error };
}

/** Gunzips as much as possible: on damage, the output of the longest prefix that still inflates. */
function gunzipSalvage(bytes: Uint8Array, key: string): { data: Uint8Array; error?: DecodeError } {
  try {
    return { data: gunzipSync(bytes) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = (e as Error).message;
    if (code === 'Z_BUF_ERROR') {
      // Cut off: inflate what is there (sync flush returns the partial output instead of throwing).
      let data: Uint8Array = new Uint8Array(0);
      try {
        data = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
      } catch {
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
        best = gunzipSync(bytes.subarray(0, mid), { finishFlush: constants.Z_SYNC_FLUSH });
        lo = mid;
      } catch {
        hi = mid - 1;
      }
    }
    if (lo > 0 && best.length === 0) {
      try {
        best = gunzipSync(bytes.subarray(0, lo), { finishFlush: constants.Z_SYNC_FLUSH });
      } catch {
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
 * Streams one object (e.g. an S3 GetObject body) through the decoder with bounded memory:
 * gunzips when the first bytes are the gzip magic, and hands records to `onRecords` as they
 * complete. Never throws for damaged data (errors from `chunks` itself or `onRecords` propagate).
 */
export async function decodeObjectStream(
  chunks: AsyncIterable<Uint8Array>,
  key: string,
  onRecords: (records: unknown[]) => void | Promise<void>,
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
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    if (done) return;
    for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
  }
  let gzipError: DecodeError | undefined;
  if (isGzip(head)) {
    const gunzip = createGunzip();
    let consumed = 0;
    const feed = (async () => {
      try {
        for await (const c of rest()) {
          consumed += c.length;
          if (gunzip.destroyed) return;
          if (!gunzip.write(c)) {
            // 'close' too: a consumer that stops early destroys the gunzip and 'drain' never comes.
            await new Promise<void>((r) => {
              gunzip.once('drain', r);
              gunzip.once('close', r);
            });
          }
        }
        gunzip.end();
      } catch (e) {
        gunzip.destroy(e as Error);
      }
    })();
    try {
      for await (const out of gunzip) {
        await deliver(text.decode(out as Uint8Array, { stream: true }));
        if (d.error !== undefined) break;
      }
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
  } else {
    for await (const c of rest()) {
      await deliver(text.decode(c, { stream: true }));
      if (d.error !== undefined) break;
    }
  }
  if (d.error === undefined) await deliver(text.decode());
  const tail = d.end();
  const error = gzipError ?? tail.error;
  return error === undefined ? { count: d.count } : { count: d.count, error };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
