/**
 * PutRecords request planning and retry timing (pure; the SDK glue is src/aws/kinesis-sender.ts).
 * Kinesis limits per request: 500 records and 5 MiB, counting each record's data blob AND its
 * partition key (UTF-8 bytes); a single record (data + key) may be at most 1 MiB.
 */

export const MAX_RECORDS_PER_REQUEST = 500;
export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const MAX_ENTRY_BYTES = 1024 * 1024;
/** Kinesis partition keys are 1–256 Unicode characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;

export interface BatchLimits {
  maxRecords: number;
  maxBytes: number;
  maxEntryBytes: number;
}

export const KINESIS_LIMITS: BatchLimits = {
  maxRecords: MAX_RECORDS_PER_REQUEST,
  maxBytes: MAX_REQUEST_BYTES,
  maxEntryBytes: MAX_ENTRY_BYTES,
};

export interface Entry {
  data: Uint8Array;
  partitionKey: string;
}

/** UTF-8 byte length without allocating (partition keys are short; this avoids a Buffer per record). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Bytes an entry counts towards the request limit, as AWS counts them. */
export function entryBytes(e: Entry): number {
  return e.data.byteLength + utf8Length(e.partitionKey);
}

/** Why an entry can never be sent (undefined when it can). */
export function entryProblem(e: Entry, limits: BatchLimits = KINESIS_LIMITS): string | undefined {
  // Code points ≤ UTF-16 units, so only long keys need counting.
  const k = e.partitionKey;
  const keyChars = k.length <= MAX_PARTITION_KEY_LENGTH ? k.length : [...k].length;
  if (keyChars < 1 || keyChars > MAX_PARTITION_KEY_LENGTH) {
    return `partition key must be 1-${MAX_PARTITION_KEY_LENGTH} characters, got ${keyChars}`;
  }
  const bytes = entryBytes(e);
  if (bytes > limits.maxEntryBytes)
    return `record is ${bytes} bytes (data + partition key), limit ${limits.maxEntryBytes}`;
  return undefined;
}

/**
 * Streaming batch builder: `add` returns a full batch when the new entry does not fit the current
 * one (the entry then starts the next batch); `flush` returns the remainder. Entries must pass
 * entryProblem first.
 */
export class BatchBuilder<T extends Entry> {
  private current: T[] = [];
  private bytes = 0;

  constructor(private readonly limits: BatchLimits = KINESIS_LIMITS) {}

  add(e: T): T[] | undefined {
    const b = entryBytes(e);
    let full: T[] | undefined;
    if (
      this.current.length > 0 &&
      (this.current.length >= this.limits.maxRecords || this.bytes + b > this.limits.maxBytes)
    ) {
      full = this.current;
      this.current = [];
      this.bytes = 0;
    }
    this.current.push(e);
    this.bytes += b;
    if (full === undefined && this.current.length >= this.limits.maxRecords) {
      full = this.current;
      this.current = [];
      this.bytes = 0;
    }
    return full;
  }

  get pending(): number {
    return this.current.length;
  }

  flush(): T[] | undefined {
    if (this.current.length === 0) return undefined;
    const out = this.current;
    this.current = [];
    this.bytes = 0;
    return out;
  }
}

/** Plans a finite list of (valid) entries into request-sized batches, in order. */
export function planBatches<T extends Entry>(
  entries: Iterable<T>,
  limits: BatchLimits = KINESIS_LIMITS,
): T[][] {
  const b = new BatchBuilder<T>(limits);
  const out: T[][] = [];
  for (const e of entries) {
    const full = b.add(e);
    if (full !== undefined) out.push(full);
  }
  const rest = b.flush();
  if (rest !== undefined) out.push(rest);
  return out;
}

export const BACKOFF_BASE_MS = 100;
export const BACKOFF_CAP_MS = 5000;

/**
 * "Full jitter" exponential backoff: uniform in [0, min(cap, base·2^(attempt-1))) for retry
 * `attempt` (1 = first retry). Spreads synchronized retries of many producers apart.
 */
export function backoffMs(
  attempt: number,
  random: () => number,
  baseMs: number = BACKOFF_BASE_MS,
  capMs: number = BACKOFF_CAP_MS,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
