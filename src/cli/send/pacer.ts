/**
 * Even pacing of a lazy record source: item n is released no earlier than start + n/rate (and,
 * with a byte budget, start + bytes/byteRate). Scheduling against the start time instead of
 * sleeping a fixed gap per item means timer jitter never accumulates into drift, so the achieved
 * rate over any run of a few seconds is the target rate.
 */

export interface PaceOptions<T> {
  /** Items per second. */
  rate?: number | undefined;
  /** Bytes per second (for per-shard MiB/s limits). */
  byteRate?: number | undefined;
  /** Size of an item for the byte budget. */
  bytesOf?: ((item: T) => number) | undefined;
  signal?: AbortSignal | undefined;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sleeps shorter than this are skipped: a few items are released together instead. */
const MIN_SLEEP_MS = 2;

export async function* paced<T>(
  source: Iterable<T> | AsyncIterable<T>,
  o: PaceOptions<T>,
): AsyncGenerator<T, void, undefined> {
  const now = o.now ?? (() => performance.now());
  const sleep = o.sleep ?? defaultSleep;
  const rate = o.rate !== undefined && o.rate > 0 ? o.rate : undefined;
  const byteRate =
    o.byteRate !== undefined && o.byteRate > 0 && o.bytesOf !== undefined ? o.byteRate : undefined;
  const aborted = (): boolean => o.signal?.aborted === true;
  let start: number | undefined;
  let n = 0;
  let bytes = 0;
  for await (const item of source as AsyncIterable<T>) {
    if (aborted()) return;
    start ??= now();
    // When is this item due? The later of the record and the byte schedule.
    let dueMs = 0;
    if (rate !== undefined) dueMs = (n / rate) * 1000;
    if (byteRate !== undefined) dueMs = Math.max(dueMs, (bytes / byteRate) * 1000);
    const wait = start + dueMs - now();
    if (wait >= MIN_SLEEP_MS) {
      await sleep(wait);
      if (aborted()) return;
    }
    n++;
    if (byteRate !== undefined && o.bytesOf !== undefined) bytes += o.bytesOf(item);
    yield item;
  }
}
