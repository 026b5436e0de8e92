/**
 * The engine of `paypipe send` (also driven directly by bench/send.ts and the tests): a lazy
 * source of records → count/duration limit → optional even pacing → the shared Kinesis sender.
 *
 * Memory stays flat for any count: records are generated (or read from the file) only when the
 * sender asks for the next one, and the sender holds at most `concurrency` batches. What was sent
 * is tallied on the way through, per currency in exact minor units; entries the sender finally
 * gives up on are subtracted again at the end and handed back so nothing is lost silently.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { FailedRecord, KinesisClient, SendRecord, SendSummary } from '../../aws/kinesis.js';
import { KINESIS_LIMITS } from '../../pipeline/batching.js';
import { validateValue } from '../../domain/event.js';
import { type PaypipeError, usageError } from '../../errors.js';
import { generateEvents, recordData, recordPartitionKey, type Scenario } from '../../domain/generator.js';
import { windowStartMs } from '../../domain/window.js';
import { plural } from '../render/aggregates.js';
import { paced } from './pacer.js';

export interface SendItem extends SendRecord {
  /** Set for valid events only: what the aggregates must count. */
  currency?: string | undefined;
  amountMinor?: number | undefined;
  eventMs?: number | undefined;
}

export interface GeneratedSource {
  seed: number;
  scenario?: Scenario | undefined;
  spanMs?: number | undefined;
  /** Event times are taken from this clock when each event is generated (i.e. when it is sent). */
  clock: () => number;
}

/**
 * The producer's generator, lazily. Each event's time is "now" at the moment the sender pulls it,
 * so a 10-minute paced run spreads over 10 one-minute windows like real traffic; with the same
 * seed the ids, amounts, currencies and merchants are identical run after run.
 */
export function* generatedItems(o: GeneratedSource): Generator<SendItem, never, undefined> {
  // `now` is read once per event as the sender pulls it: each event is stamped with its send time.
  const events = generateEvents({
    seed: o.seed,
    spanMs: o.spanMs ?? 0,
    ...(o.scenario === undefined ? {} : { scenario: o.scenario }),
    now: o.clock,
  });
  for (const r of events) {
    const data = Buffer.from(recordData(r));
    const partitionKey = recordPartitionKey(r);
    if (r.kind === 'event') {
      yield {
        data,
        partitionKey,
        currency: r.event.currency,
        amountMinor: r.event.amountMinor,
        eventMs: r.event.event_timestamp,
      };
    } else yield { data, partitionKey };
  }
  throw new Error('unreachable: the generator is infinite');
}

/** How many lines of a --from-file are checked before anything is sent. */
export const FILE_SAMPLE_LINES = 1000;

export interface FileItemsOptions {
  clock: () => number;
  maxFutureSkewMs: number;
  input?: NodeJS.ReadableStream;
  /** Send the file even when most of its lines are not valid events (e.g. replaying bad records). */
  allowInvalid?: boolean | undefined;
  /** How the file is named in messages (the path as given). */
  label?: string;
}

/**
 * Lines of an NDJSON file (or stdin with "-"), sent byte for byte as they are. Each line is also
 * validated like the aggregator will (so the summary counts only what the aggregates will show);
 * invalid lines are still sent — replaying "what happened" includes the bad records. But a file
 * whose first lines are mostly not events (a README, a pretty-printed JSON array) is refused before
 * the first record goes out, unless `allowInvalid` says the bad records are intended.
 */
export async function* fileItems(
  path: string,
  o: FileItemsOptions,
): AsyncGenerator<SendItem, void, undefined> {
  const input = o.input ?? (path === '-' ? process.stdin : createReadStream(path));
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  let n = 0;
  const item = (raw: string): { item: SendItem; problem?: string } | undefined => {
    n++;
    const line = raw.trim();
    if (line === '') return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    const id = (parsed as { transaction_id?: unknown } | undefined)?.transaction_id;
    const partitionKey = typeof id === 'string' && id.length > 0 && id.length <= 256 ? id : `line-${n}`;
    const data = Buffer.from(line);
    if (parsed === undefined) return { item: { data, partitionKey }, problem: `line ${n} is not JSON` };
    const v = validateValue(parsed, { arrivalMs: o.clock(), maxFutureSkewMs: o.maxFutureSkewMs });
    if (!v.ok) return { item: { data, partitionKey }, problem: `line ${n}: ${v.detail}` };
    return {
      item: {
        data,
        partitionKey,
        currency: v.event.currency,
        amountMinor: v.event.amountMinor,
        eventMs: v.event.event_timestamp,
      },
    };
  };
  // The sample: checked before anything is yielded, i.e. before anything is sent.
  const head: SendItem[] = [];
  let bad = 0;
  let firstProblem: string | undefined;
  let whole = false;
  while (head.length < FILE_SAMPLE_LINES) {
    const r = await lines.next();
    if (r.done === true) {
      whole = true;
      break;
    }
    const x = item(r.value);
    if (x === undefined) continue;
    head.push(x.item);
    if (x.problem !== undefined) {
      bad++;
      firstProblem ??= x.problem;
    }
  }
  if (o.allowInvalid !== true && bad * 2 > head.length) {
    const name = o.label ?? path;
    const of = `${bad} of ${whole ? '' : 'the first '}${plural(head.length, 'line')}`;
    const are = bad === 1 ? 'is not a valid event' : 'are not valid events';
    throw usageError(
      `--from-file ${name}: ${of} ${are} (${firstProblem}); nothing was sent`,
      'give an NDJSON file of events, one JSON object per line, or add --allow-invalid to send the lines as they are (the aggregator dead-letters them)',
    );
  }
  yield* head;
  for (let r = await lines.next(); r.done !== true; r = await lines.next()) {
    const x = item(r.value);
    if (x !== undefined) yield x.item;
  }
}

export interface SendRunProgress {
  /** Records taken from the source so far. */
  pulled: number;
  sent: number;
  failed: number;
  retried: number;
  throttled: number;
  requests: number;
  elapsedMs: number;
}

export interface SendRunOptions {
  count?: number | undefined;
  durationMs?: number | undefined;
  /** Records per second; undefined = as fast as the stream takes them. */
  rate?: number | undefined;
  /** Bytes per second (data + partition key), for per-shard MiB/s limits. */
  byteRate?: number | undefined;
  /** PutRecords calls in flight. Default 8. */
  concurrency?: number | undefined;
  maxAttempts?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: SendRunProgress) => void) | undefined;
  now?: () => number;
  /** The aggregator's window width, for the per-window tallies (default 60 s). */
  windowMs?: number;
}

/** Valid events sent in one (window, currency): what that window's merged aggregate must say. */
export interface WindowTally {
  windowStartMs: number;
  currency: string;
  count: number;
  totalMinor: number;
}

export interface SendRunResult {
  pulled: number;
  sent: number;
  failed: number;
  retried: number;
  throttled: number;
  requests: number;
  durationMs: number;
  /** Records sent that are not valid events. */
  invalid: number;
  /** Valid events sent, per currency. */
  totals: Map<string, { count: number; totalMinor: number }>;
  /** Valid events sent, per (window, currency), in window order. */
  byWindow: WindowTally[];
  minEventMs: number | undefined;
  maxEventMs: number | undefined;
  failedRecords: FailedRecord<SendItem>[];
  /** Stopped early by the signal (Ctrl-C). */
  interrupted: boolean;
  /**
   * The non-retryable error (stream deleted mid-run, access revoked, token expired…) that stopped
   * the run early. Its unsent records are in `failedRecords`; records never pulled from the
   * source are not (they were never generated or read). Undefined when the run went to its end.
   */
  stoppedBy?: PaypipeError | undefined;
}

export async function runSend(
  client: KinesisClient,
  streamName: string,
  source: Iterable<SendItem> | AsyncIterable<SendItem>,
  o: SendRunOptions,
): Promise<SendRunResult> {
  const { sendRecords, SendStoppedError } = await import('../../aws/kinesis.js');
  const now = o.now ?? (() => performance.now());
  const started = now();
  const totals = new Map<string, { count: number; totalMinor: number }>();
  const windowMs = o.windowMs ?? 60_000;
  const windows = new Map<string, WindowTally>();
  const windowOf = (it: SendItem): WindowTally | undefined => {
    if (it.eventMs === undefined || it.currency === undefined) return undefined;
    const start = windowStartMs(it.eventMs, windowMs);
    const key = `${start}|${it.currency}`;
    let w = windows.get(key);
    if (w === undefined) {
      w = { windowStartMs: start, currency: it.currency, count: 0, totalMinor: 0 };
      windows.set(key, w);
    }
    return w;
  };
  let pulled = 0;
  let invalid = 0;
  let minEventMs: number | undefined;
  let maxEventMs: number | undefined;
  let interrupted = false;
  const deadline = o.durationMs === undefined ? undefined : started + o.durationMs;
  const count = o.count;

  const tally = (it: SendItem): void => {
    pulled++;
    if (it.currency === undefined || it.amountMinor === undefined) {
      invalid++;
      return;
    }
    const t = totals.get(it.currency);
    if (t === undefined) totals.set(it.currency, { count: 1, totalMinor: it.amountMinor });
    else {
      t.count++;
      t.totalMinor += it.amountMinor;
    }
    const w = windowOf(it);
    if (w !== undefined) {
      w.count++;
      w.totalMinor += it.amountMinor;
    }
    if (it.eventMs !== undefined) {
      if (minEventMs === undefined || it.eventMs < minEventMs) minEventMs = it.eventMs;
      if (maxEventMs === undefined || it.eventMs > maxEventMs) maxEventMs = it.eventMs;
    }
  };
  const stopNow = (): boolean => {
    if (count !== undefined && pulled >= count) return true;
    if (o.signal?.aborted === true) {
      interrupted = true;
      return true;
    }
    return deadline !== undefined && now() >= deadline;
  };

  // Sync source and no pacing: a plain generator keeps the hot path free of promise overhead.
  function* limitedSync(src: Iterable<SendItem>): Generator<SendItem, void, undefined> {
    if (stopNow()) return;
    for (const it of src) {
      tally(it);
      yield it;
      if (stopNow()) return;
    }
  }
  async function* limitedAsync(
    src: Iterable<SendItem> | AsyncIterable<SendItem>,
  ): AsyncGenerator<SendItem, void, undefined> {
    if (stopNow()) return;
    for await (const it of src) {
      tally(it);
      yield it;
      if (stopNow()) return;
    }
  }

  const pacing = o.rate !== undefined || o.byteRate !== undefined;
  let records: Iterable<SendItem> | AsyncIterable<SendItem>;
  if (pacing) {
    // Pace first, then limit: the limit check then sees the pacing's clock.
    records = limitedAsync(
      paced(source, {
        rate: o.rate,
        byteRate: o.byteRate,
        bytesOf: (it) => it.data.byteLength + it.partitionKey.length,
        signal: o.signal,
      }),
    );
  } else if (Symbol.asyncIterator in source) records = limitedAsync(source);
  else records = limitedSync(source);

  // Slow rates: small batches so records go out about every 50 ms instead of waiting for 500.
  const maxRecords =
    o.rate === undefined
      ? KINESIS_LIMITS.maxRecords
      : Math.max(1, Math.min(KINESIS_LIMITS.maxRecords, Math.ceil(o.rate / 20)));
  let summary: SendSummary<SendItem>;
  let stoppedBy: PaypipeError | undefined;
  try {
    summary = await sendRecords(client, streamName, records, {
      concurrency: o.concurrency ?? 8,
      ...(o.maxAttempts === undefined ? {} : { maxAttempts: o.maxAttempts }),
      limits: { ...KINESIS_LIMITS, maxRecords },
      onProgress: (p) => o.onProgress?.({ ...p, pulled, elapsedMs: now() - started }),
    });
  } catch (e) {
    // Stopped by an error no retry fixes: the sender hands back what it had pulled and not sent
    // (unsentRecordsOf(e) is the same list, without the counts). Return it like any other unsent
    // records, so `send` writes them to its unsent file and exits 1, instead of losing them with
    // the exception; the cause stays in `stoppedBy`.
    if (!(e instanceof SendStoppedError)) throw e;
    // The records are the SendItems this function passed in.
    summary = e.summary as SendSummary<SendItem>;
    stoppedBy = e;
  }
  // What the stream never accepted is not in the totals.
  for (const f of summary.failedRecords) {
    const it = f.record;
    if (it.currency === undefined || it.amountMinor === undefined) {
      invalid--;
      continue;
    }
    const t = totals.get(it.currency);
    if (t !== undefined) {
      t.count--;
      t.totalMinor -= it.amountMinor;
      if (t.count === 0) totals.delete(it.currency);
    }
    const w = windowOf(it);
    if (w !== undefined) {
      w.count--;
      w.totalMinor -= it.amountMinor;
    }
  }
  return {
    pulled,
    sent: summary.sent,
    failed: summary.failed,
    retried: summary.retried,
    throttled: summary.throttled,
    requests: summary.requests,
    durationMs: now() - started,
    invalid,
    totals,
    byWindow: [...windows.values()]
      .filter((w) => w.count > 0)
      .sort((a, b) => a.windowStartMs - b.windowStartMs || (a.currency < b.currency ? -1 : 1)),
    minEventMs,
    maxEventMs,
    failedRecords: summary.failedRecords,
    interrupted,
    stoppedBy,
  };
}
