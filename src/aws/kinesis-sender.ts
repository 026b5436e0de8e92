/**
 * PutRecords with the care Kinesis needs, shared by the producer, the aggregator and `paypipe send`:
 * request-sized batches (batching.ts), bounded concurrency, and retries of ONLY the entries whose
 * result carried an ErrorCode (PutRecords is not atomic: a 200 response can hold failed entries),
 * with full-jitter backoff. An entry is resent only when its result said it failed, so retries
 * never duplicate; every entry ends up either sent or in `failedRecords`, so none is lost silently.
 *
 * The input is pulled lazily: at most `concurrency` batches (≤ 500 records each) are held at once.
 * Ordering across batches is not preserved (concurrency, retries); Kinesis only orders per shard
 * within successful puts anyway, and nothing downstream relies on order.
 *
 * An error no retry can fix (stream deleted, access revoked, expired token) stops the run with a
 * SendStoppedError that still hands back what was not sent (`unsentRecordsOf`), so a caller can
 * save those records instead of losing them with the exception.
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import {
  backoffMs,
  BatchBuilder,
  type BatchLimits,
  entryProblem,
  KINESIS_LIMITS,
} from '../pipeline/batching.js';
import { PaypipeError } from '../errors.js';
import { errorName } from './errors.js';

export interface SendRecord {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey?: string;
}

export interface FailedRecord<R> {
  record: R;
  /** Kinesis ErrorCode of the last attempt (or the request error name, or `InvalidRecord`). */
  errorCode: string;
  errorMessage: string;
}

export interface SendProgress {
  sent: number;
  failed: number;
  /** Entry resends (one entry retried twice counts 2). */
  retried: number;
  /** PutRecords calls made. */
  requests: number;
  /** Entries rejected with ProvisionedThroughputExceededException (per attempt), incl. whole-request throttles. */
  throttled: number;
}

export interface SendSummary<R> extends SendProgress {
  /** Records still unsent after maxAttempts (or invalid: too large, bad partition key). */
  failedRecords: FailedRecord<R>[];
}

export interface SendOptions {
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per entry, the first send included. Default 8. */
  maxAttempts?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onProgress?: (p: SendProgress) => void;
  limits?: BatchLimits;
  /**
   * A deadline for the whole send: once aborted, nothing more is sent or retried and what is not
   * confirmed ends in `failedRecords` (errorCode `TimeBudgetExceeded`). The aggregator's time budget.
   */
  signal?: AbortSignal;
  /** Each PutRecords call (the SDK's own retries included) is abandoned after this long. */
  attemptTimeoutMs?: number;
}

/** Errors that no retry can fix: stop pulling input and report them once. */
const FATAL = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'InvalidArgumentException',
  'ValidationException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'CredentialsProviderError',
  // Nothing listens at the endpoint any more (e.g. the local pipeline stopped mid-run): the SDK
  // has already retried, and a refused connection never delivered the request, so stopping now
  // loses nothing and says why, instead of failing every remaining batch for minutes.
  'ECONNREFUSED',
]);

const THROTTLES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'LimitExceededException',
]);

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Thrown when a non-retryable error stopped the run. `summary` is what the run got to: its
 * `failedRecords` are every record pulled from the input but not confirmed sent — the batch that
 * hit the error, batches in flight or queued behind it, the partial batch still being built, the
 * record pulled when the error was noticed, and any given up on earlier (retries exhausted,
 * invalid). Records the input never yielded are not known here: the caller's source still has
 * them (for `paypipe send` they were simply never generated or read).
 */
export class SendStoppedError<R extends SendRecord = SendRecord> extends PaypipeError {
  declare readonly summary: SendSummary<R>;

  constructor(
    message: string,
    options: { hint?: string; details?: Record<string, unknown> },
    summary: SendSummary<R>,
  ) {
    super('AWS', message, options);
    // Not enumerable: error printers (--debug, test diffs) would dump every record's bytes.
    Object.defineProperty(this, 'summary', { value: summary, enumerable: false });
  }
}

/**
 * The records a failed sendRecords did not send (see SendStoppedError), or [] for any other
 * error. `R` is the record type the caller passed to sendRecords; it is not checked.
 */
export function unsentRecordsOf<R extends SendRecord = SendRecord>(err: unknown): R[] {
  return err instanceof SendStoppedError ? err.summary.failedRecords.map((f) => f.record as R) : [];
}

export async function sendRecords<R extends SendRecord>(
  client: KinesisClient,
  streamName: string,
  records: Iterable<R> | AsyncIterable<R>,
  opts: SendOptions = {},
): Promise<SendSummary<R>> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? 8));
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const limits = opts.limits ?? KINESIS_LIMITS;
  const s: SendSummary<R> = { sent: 0, failed: 0, retried: 0, requests: 0, throttled: 0, failedRecords: [] };
  let fatal: { name: string; message: string } | undefined;
  const progress = (): void => {
    opts.onProgress?.({
      sent: s.sent,
      failed: s.failed,
      retried: s.retried,
      requests: s.requests,
      throttled: s.throttled,
    });
  };
  const giveUp = (rs: readonly R[], errorCode: string, errorMessage: string): void => {
    for (const record of rs) s.failedRecords.push({ record, errorCode, errorMessage });
    s.failed += rs.length;
  };

  const callOptions = (): { abortSignal?: AbortSignal } => {
    const signals = [
      ...(opts.signal === undefined ? [] : [opts.signal]),
      ...(opts.attemptTimeoutMs === undefined ? [] : [AbortSignal.timeout(opts.attemptTimeoutMs)]),
    ];
    return signals.length === 0 ? {} : { abortSignal: AbortSignal.any(signals) };
  };
  const outOfTime = (): boolean => opts.signal?.aborted === true;
  const sendBatch = async (batch: R[]): Promise<void> => {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await sleep(backoffMs(attempt - 1, random));
      // Another batch hit an unfixable error (e.g. no such stream): don't keep hammering.
      if (fatal !== undefined) return giveUp(pending, fatal.name, fatal.message);
      if (outOfTime())
        return giveUp(pending, 'TimeBudgetExceeded', 'the time budget ran out before this was sent');
      if (attempt > 1) s.retried += pending.length;
      s.requests++;
      let results: { ErrorCode?: string | undefined; ErrorMessage?: string | undefined }[];
      try {
        const out = await client.send(
          new PutRecordsCommand({ StreamName: streamName, Records: pending.map(toEntry) }),
          callOptions(),
        );
        results = out.Records ?? [];
      } catch (e) {
        const name = errorName(e);
        const message = (e as Error)?.message ?? String(e);
        if (FATAL.has(name)) {
          fatal ??= { name, message };
          giveUp(pending, name, message);
          progress();
          return;
        }
        // The SDK already retried throttles/5xx/resets; count this whole attempt as failed.
        if (THROTTLES.has(name)) s.throttled += pending.length;
        if (attempt >= maxAttempts || outOfTime()) {
          giveUp(pending, name, message);
          progress();
          return;
        }
        progress();
        continue;
      }
      const next: R[] = [];
      let lastCode = '';
      let lastMessage = '';
      for (let i = 0; i < pending.length; i++) {
        const r = results[i];
        // A missing result entry (never seen from the API) is treated as failed, not as sent.
        if (r === undefined || r.ErrorCode !== undefined) {
          next.push(pending[i] as R);
          lastCode = r?.ErrorCode ?? 'MissingResult';
          lastMessage = r?.ErrorMessage ?? 'no result entry for this record';
          if (lastCode === 'ProvisionedThroughputExceededException') s.throttled++;
        } else s.sent++;
      }
      if (next.length > 0 && attempt >= maxAttempts) {
        giveUp(next, lastCode, lastMessage);
        progress();
        return;
      }
      progress();
      if (next.length === 0) return;
      pending = next;
    }
  };

  const inflight = new Set<Promise<void>>();
  const launch = async (batch: R[]): Promise<void> => {
    while (inflight.size >= concurrency) await Promise.race(inflight);
    const p: Promise<void> = sendBatch(batch).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const builder = new BatchBuilder<R>(limits);
  const accept = async (r: R): Promise<void> => {
    const problem = entryProblem(r, limits);
    if (problem !== undefined) {
      giveUp([r], 'InvalidRecord', problem);
      return;
    }
    const full = builder.add(r);
    if (full !== undefined) await launch(full);
  };
  // A record pulled after the fatal error is noticed is unsent too: hand it back, don't drop it.
  const stopWith = (r: R, f: { name: string; message: string }): void => giveUp([r], f.name, f.message);
  if (Symbol.asyncIterator in records) {
    for await (const r of records) {
      if (fatal !== undefined) {
        stopWith(r, fatal);
        break;
      }
      await accept(r);
    }
  } else {
    for (const r of records) {
      if (fatal !== undefined) {
        stopWith(r, fatal);
        break;
      }
      await accept(r);
    }
  }
  const rest = builder.flush();
  if (rest !== undefined) {
    if (fatal === undefined) await launch(rest);
    else giveUp(rest, fatal.name, fatal.message);
  }
  await Promise.all(inflight);
  if (fatal !== undefined) {
    throw new SendStoppedError(
      `PutRecords to stream "${streamName}" failed: ${fatal.name}: ${firstLine(fatal.message)}`,
      {
        hint:
          fatal.name === 'ResourceNotFoundException'
            ? 'check the stream exists (is the pipeline deployed / `paypipe up` running?)'
            : fatal.name === 'ECONNREFUSED'
              ? 'nothing answers at the stream endpoint any more: with --local, is `paypipe up` still running?'
              : 'check the credentials, region and permissions for this stream',
        details: { sent: s.sent, failed: s.failed, requests: s.requests, error: fatal.name },
      },
      s,
    );
  }
  return s;
}

const toEntry = (r: SendRecord): PutRecordsRequestEntry =>
  r.explicitHashKey === undefined
    ? { Data: r.data, PartitionKey: r.partitionKey }
    : { Data: r.data, PartitionKey: r.partitionKey, ExplicitHashKey: r.explicitHashKey };

const firstLine = (s: string): string => s.split('\n', 1)[0] ?? '';
