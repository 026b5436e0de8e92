/**
 * Lambda's Kinesis event source mapping, emulated: one poller per shard that builds the exact
 * Lambda Kinesis event and invokes the function, honouring batchSize, the batching window, the
 * starting position, bounded retries, bisect-on-error (halves in order, the first to completion
 * before the second), partial batch responses, maximum record age and the on-failure destination
 * (a file).
 *
 * What the merge rule (src/domain/exact-merge.ts) relies on, and this keeps as Lambda does: per
 * shard, invocations start in order (a retry or a second half never starts before an earlier
 * invocation's first record), and nothing before the checkpoint is offered again.
 *
 * Exactness after a crash: before every invocation the shard's state file records the in-flight
 * range (first, last sequence number); the checkpoint moves only after the invocation's outcome.
 * A restart that finds an in-flight range re-reads exactly those records and invokes the function
 * with the same batch again, so the aggregator writes the same batch output as any that escaped
 * before the crash, and the merge counts it once. At least once, never a gap.
 */
import type { KinesisClient } from '../aws/kinesis.js';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { kinesisEvent } from '../lambdas/lib/kinesis-event.js';
import type { AggregatorSettings } from '../pipeline/config.js';
import { type FailedBatchRecord, type FailureCondition, appendFailedBatch } from './failed-batches.js';
import { readJsonSync, writeJsonAtomicSync } from './files.js';
import { sleep } from './sleep.js';
import {
  type ShardReader as ShardReaderT,
  ShardReader,
  type StreamRecord,
  listShardIds,
  readRange,
} from './shard-reader.js';

export type BatchSettings = Pick<
  AggregatorSettings,
  | 'batchSize'
  | 'maxBatchingWindowSeconds'
  | 'startingPosition'
  | 'bisectBatchOnError'
  | 'reportBatchItemFailures'
  | 'retryAttempts'
  | 'maxRecordAgeSeconds'
>;

export interface ShardState {
  /** Last sequence number fully handled (processed or sent to the failure destination). */
  sequenceNumber?: string;
  /** The range being invoked right now; re-invoked as is after a crash. */
  inFlight?: { first: string; last: string; count: number };
}

export interface ShardLag {
  shardId: string;
  /** From GetRecords (kinesalite reports 0 unless the shard is closed). */
  millisBehindLatest: number;
  /** Age of the newest record read but not yet handled (0 when nothing is pending). */
  pendingAgeMs: number;
  /** Records read and waiting for (or in) an invocation. */
  pendingRecords: number;
  checkpoint: string | undefined;
}

export interface EsmStats {
  recordsIn: number;
  invocations: number;
  functionErrors: number;
  partialFailures: number;
  retries: number;
  bisections: number;
  failedBatches: number;
  expiredRecords: number;
  recoveredInFlight: number;
}

export interface EventSourceMappingOptions {
  kinesis: KinesisClient;
  streamName: string;
  streamArn: string;
  region: string;
  functionArn: string;
  /** For invokeIdentityArn, like the function's execution role. */
  roleArn: string;
  settings: BatchSettings;
  /** State files go to `<stateDir>/<shardId>.json`. */
  stateDir: string;
  /** The data dir (failed-batches.ndjson). */
  dataDir: string;
  invoke: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | undefined | undefined>;
  now?: () => number;
  /** How long a shard that just went idle waits before polling again (default 200 ms). */
  idlePollMs?: number;
  /** The wait doubles while the shard stays idle, up to this (default 1000 ms, Lambda's pace). */
  maxIdlePollMs?: number;
  /** Delay before retry n (1-based). */
  retryDelayMs?: (n: number) => number;
  onError?: (e: unknown, shardId: string) => void;
}

/** Lambda caps a synchronous invocation payload at 6 MB; stay below it when filling a batch. */
const MAX_PAYLOAD_BYTES = 5 * 1024 * 1024;

type Outcome =
  | { kind: 'ok' }
  | { kind: 'partial'; sequenceNumber: string }
  | { kind: 'error'; error: unknown };

export class EventSourceMapping {
  readonly stats: EsmStats = {
    recordsIn: 0,
    invocations: 0,
    functionErrors: 0,
    partialFailures: 0,
    retries: 0,
    bisections: 0,
    failedBatches: 0,
    expiredRecords: 0,
    recoveredInFlight: 0,
  };
  private readonly lags = new Map<string, ShardLag>();
  private readonly now: () => number;
  /** Draining: stop polling, hand what was read to the function, save state. */
  private readonly draining = new AbortController();
  /** Crashed: stop at the next await, write nothing more. */
  private crashed = false;
  private loops: Promise<void>[] = [];
  /** Shards whose last poll came back empty with nothing pending (for waitForIdle). */
  private readonly idle = new Map<string, boolean>();
  /** Completed poll cycles per shard (waitForIdle waits for fresh ones). */
  private readonly polls = new Map<string, number>();

  constructor(private readonly o: EventSourceMappingOptions) {
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    const shards = await listShardIds(this.o.kinesis, this.o.streamName);
    for (const shardId of shards) {
      this.idle.set(shardId, false);
      this.polls.set(shardId, 0);
      this.lags.set(shardId, {
        shardId,
        millisBehindLatest: 0,
        pendingAgeMs: 0,
        pendingRecords: 0,
        checkpoint: this.loadState(shardId).sequenceNumber,
      });
      this.loops.push(this.runShard(shardId));
    }
  }

  lag(): ShardLag[] {
    return [...this.lags.values()].map((l) => ({ ...l }));
  }

  /** True when every shard's last poll found nothing new and nothing is pending or in flight. */
  isIdle(): boolean {
    return [...this.idle.values()].every(Boolean);
  }

  pollCount(): number {
    return Math.min(...this.polls.values());
  }

  /** Clean stop: stop polling, invoke what was already read, persist checkpoints. */
  async stop(): Promise<void> {
    this.draining.abort();
    await Promise.allSettled(this.loops);
  }

  /** Crash stop: abandon the loops where they are; nothing more is written. */
  crash(): void {
    this.crashed = true;
    this.draining.abort();
  }

  private stateFile(shardId: string): string {
    return join(this.o.stateDir, `${shardId}.json`);
  }

  private loadState(shardId: string): ShardState {
    return readJsonSync<ShardState>(this.stateFile(shardId)) ?? {};
  }

  /** Synchronous check-then-write: a crashed mapping can never write after a successor started. */
  private saveState(shardId: string, state: ShardState): void {
    if (this.crashed) throw new CrashedError();
    writeJsonAtomicSync(this.stateFile(shardId), state);
    const lag = this.lags.get(shardId);
    if (lag !== undefined) lag.checkpoint = state.sequenceNumber;
  }

  private async runShard(shardId: string): Promise<void> {
    try {
      await this.shardLoop(shardId);
    } catch (e) {
      if (!(e instanceof CrashedError) && !(e instanceof StoppedError)) this.o.onError?.(e, shardId);
    }
  }

  private async shardLoop(shardId: string): Promise<void> {
    const s = this.o.settings;
    const state = this.loadState(shardId);
    let checkpoint = state.sequenceNumber;
    if (state.inFlight !== undefined) {
      // A crash interrupted this invocation: the same records again, before anything newer.
      const records = await readRange(
        this.o.kinesis,
        this.o.streamName,
        shardId,
        state.inFlight.first,
        state.inFlight.last,
      );
      this.stats.recoveredInFlight++;
      if (records.length > 0) await this.handleBatch(shardId, records);
      checkpoint = state.inFlight.last;
      this.saveState(shardId, { sequenceNumber: checkpoint });
    }
    const reader: ShardReaderT = new ShardReader(
      this.o.kinesis,
      this.o.streamName,
      shardId,
      checkpoint !== undefined
        ? { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: checkpoint }
        : { type: s.startingPosition },
    );
    const lag = this.lags.get(shardId) as ShardLag;
    const windowMs = s.maxBatchingWindowSeconds * 1000;
    const idlePollMs = this.o.idlePollMs ?? 200;
    const maxIdlePollMs = Math.max(idlePollMs, this.o.maxIdlePollMs ?? 1000);
    let emptyStreak = 0;
    let pending: StreamRecord[] = [];
    let pendingBytes = 0;
    let windowStart: number | undefined;
    let consecutiveErrors = 0;
    const signal = this.draining.signal;

    while (!this.crashed) {
      const stopping = signal.aborted;
      let got = 0;
      let closed = false;
      if (!stopping) {
        try {
          const res = await reader.read(s.batchSize - pending.length);
          consecutiveErrors = 0;
          got = res.records.length;
          closed = res.closed;
          lag.millisBehindLatest = res.millisBehindLatest;
          for (const r of res.records) {
            pending.push(r);
            pendingBytes += Math.ceil((r.data.byteLength * 4) / 3) + 300;
          }
          this.stats.recordsIn += got;
        } catch (e) {
          if (this.crashed) return;
          consecutiveErrors++;
          this.o.onError?.(e, shardId);
          await sleep(Math.min(5000, 200 * 2 ** consecutiveErrors), signal);
          continue;
        }
        if (this.crashed) return;
      }
      if (pending.length > 0 && windowStart === undefined) windowStart = this.now();
      lag.pendingRecords = pending.length;
      lag.pendingAgeMs = pending.length > 0 ? this.now() - (pending.at(-1)?.arrivalMs ?? this.now()) : 0;
      const full = pending.length >= s.batchSize || pendingBytes >= MAX_PAYLOAD_BYTES;
      const windowDone = windowStart !== undefined && this.now() - windowStart >= windowMs;
      if (pending.length > 0 && (full || windowDone || closed || stopping)) {
        const batch = pending;
        pending = [];
        pendingBytes = 0;
        windowStart = undefined;
        this.idle.set(shardId, false);
        await this.handleBatch(shardId, batch);
        lag.pendingRecords = 0;
        lag.pendingAgeMs = 0;
        this.polls.set(shardId, (this.polls.get(shardId) ?? 0) + 1);
        continue;
      }
      this.idle.set(shardId, got === 0 && pending.length === 0);
      this.polls.set(shardId, (this.polls.get(shardId) ?? 0) + 1);
      if (stopping || closed) return;
      // Records are flowing: read again at once to fill the batch; otherwise wait a little.
      emptyStreak = got === 0 ? emptyStreak + 1 : 0;
      if (got === 0) {
        // A batch waiting for its window is polled briskly; an idle shard ever more calmly.
        const delay =
          windowStart === undefined
            ? Math.min(maxIdlePollMs, idlePollMs * 2 ** Math.min(emptyStreak - 1, 6))
            : Math.min(idlePollMs, windowStart + windowMs - this.now());
        await sleep(Math.max(0, delay), signal);
      }
    }
  }

  /** One batch to completion: invocations, retries, bisection, failure destination, checkpoints. */
  private async handleBatch(shardId: string, records: StreamRecord[]): Promise<void> {
    await this.handleRange(shardId, records, this.o.settings.retryAttempts);
  }

  private async handleRange(shardId: string, input: StreamRecord[], retries: number): Promise<void> {
    const s = this.o.settings;
    let range = input;
    let retriesLeft = retries;
    let attempts = 0;
    for (;;) {
      if (this.crashed) throw new CrashedError();
      // Records past the maximum age are not offered to the function again (-1: no age limit).
      const maxAgeMs = s.maxRecordAgeSeconds < 0 ? Number.POSITIVE_INFINITY : s.maxRecordAgeSeconds * 1000;
      const now = this.now();
      let expired = 0;
      while (expired < range.length && now - (range[expired] as StreamRecord).arrivalMs > maxAgeMs) expired++;
      if (expired > 0) {
        const old = range.slice(0, expired);
        this.stats.expiredRecords += old.length;
        this.fail(shardId, old, 'RecordAgeExceeded', attempts, undefined);
        this.saveState(shardId, { sequenceNumber: (old.at(-1) as StreamRecord).sequenceNumber });
        range = range.slice(expired);
      }
      const first = range[0];
      const last = range.at(-1);
      if (first === undefined || last === undefined) return;
      this.saveState(shardId, {
        sequenceNumber: this.lags.get(shardId)?.checkpoint,
        inFlight: { first: first.sequenceNumber, last: last.sequenceNumber, count: range.length },
      });
      attempts++;
      const outcome = await this.invokeOnce(shardId, range);
      if (this.crashed) throw new CrashedError();
      if (outcome.kind === 'ok') {
        this.saveState(shardId, { sequenceNumber: last.sequenceNumber });
        return;
      }
      if (outcome.kind === 'partial') {
        this.stats.partialFailures++;
        const idx = range.findIndex((r) => r.sequenceNumber === outcome.sequenceNumber);
        // A sequence number that is not in the batch counts as the whole batch failing (as on AWS).
        if (idx > 0) {
          this.saveState(shardId, { sequenceNumber: (range[idx - 1] as StreamRecord).sequenceNumber });
          range = range.slice(idx);
        }
      } else {
        this.stats.functionErrors++;
        if (s.bisectBatchOnError && range.length > 1) {
          // Halves are retried on their own; splitting does not use up retry attempts.
          this.stats.bisections++;
          const mid = Math.ceil(range.length / 2);
          await this.handleRange(shardId, range.slice(0, mid), retriesLeft);
          await this.handleRange(shardId, range.slice(mid), retriesLeft);
          return;
        }
      }
      // -1: retried until the records leave the stream (or exceed the maximum age).
      if (retriesLeft <= 0 && s.retryAttempts >= 0) {
        const functionError = outcome.kind === 'error' ? 'Unhandled' : undefined;
        this.fail(shardId, range, 'RetryAttemptsExhausted', attempts, functionError);
        this.saveState(shardId, { sequenceNumber: last.sequenceNumber });
        return;
      }
      // Stopping: leave the batch in flight (its range is saved); the next start retries it first.
      // Without this a stop would wait for as long as the function keeps failing.
      if (this.draining.signal.aborted) throw new StoppedError();
      retriesLeft--;
      this.stats.retries++;
      const delay = this.o.retryDelayMs?.(attempts) ?? Math.min(2000, 100 * 2 ** (attempts - 1));
      await sleep(delay, this.draining.signal);
      if (this.draining.signal.aborted) throw new StoppedError();
    }
  }

  private async invokeOnce(shardId: string, range: StreamRecord[]): Promise<Outcome> {
    this.stats.invocations++;
    try {
      const res = await this.o.invoke(this.event(shardId, range));
      const failures = this.o.settings.reportBatchItemFailures ? (res?.batchItemFailures ?? []) : [];
      if (failures.length === 0) return { kind: 'ok' };
      // Lambda resumes from the lowest reported sequence number.
      let lowest: string | undefined;
      for (const f of failures) {
        const id = f.itemIdentifier;
        if (typeof id !== 'string' || !/^\d+$/.test(id)) return { kind: 'partial', sequenceNumber: '' };
        if (lowest === undefined || BigInt(id) < BigInt(lowest)) lowest = id;
      }
      return { kind: 'partial', sequenceNumber: lowest ?? '' };
    } catch (error) {
      return { kind: 'error', error };
    }
  }

  /** The exact event Lambda hands a Kinesis-triggered function. */
  event(shardId: string, records: readonly StreamRecord[]): KinesisStreamEvent {
    return kinesisEvent(
      records.map((r) => ({ ...r, shardId })),
      { region: this.o.region, streamArn: this.o.streamArn, invokeIdentityArn: this.o.roleArn },
    );
  }

  private fail(
    shardId: string,
    records: readonly StreamRecord[],
    condition: FailureCondition,
    attempts: number,
    functionError: string | undefined,
  ): void {
    if (this.crashed) throw new CrashedError();
    const first = records[0] as StreamRecord;
    const last = records.at(-1) as StreamRecord;
    const rec: FailedBatchRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.o.functionArn,
        condition,
        approximateInvokeCount: attempts,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(functionError === undefined ? {} : { functionError }),
      },
      version: '1.0',
      timestamp: new Date(this.now()).toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.sequenceNumber,
        endSequenceNumber: last.sequenceNumber,
        approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
        approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
        batchSize: records.length,
        streamArn: this.o.streamArn,
      },
    };
    appendFailedBatch(this.o.dataDir, rec);
    this.stats.failedBatches++;
  }
}

class CrashedError extends Error {
  constructor() {
    super('event source mapping crashed (simulated)');
  }
}

/** A stop interrupted a retrying batch; it stays in flight for the next start. */
class StoppedError extends Error {
  constructor() {
    super('event source mapping stopped while retrying a batch');
  }
}
