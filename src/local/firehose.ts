/**
 * Kinesis Data Firehose (Kinesis source → S3), emulated: reads every shard of its source stream
 * with its own checkpoints, buffers by size and interval, and writes one object per flush under
 * the configured prefix with `!{timestamp:…}` expanded from the arrival time of the buffer's
 * first record (UTC), record data concatenated with no delimiter, GZIP when configured, named
 * like Firehose: `<deliveryStreamName>-1-YYYY-MM-DD-HH-MM-SS-<id>[.gz]`.
 *
 * Idempotent across crashes: the object's shard ranges and key are persisted before the write,
 * and <id> is derived from those ranges, so a restart re-reads the same records and rewrites the
 * same key instead of adding a second copy. Records are ordered by (arrival, shard, sequence) so
 * the rewritten object is byte-identical.
 */
import type { KinesisClient } from '../aws/kinesis.js';
import { putObject, type S3Client } from '../aws/s3.js';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { DeliverySettings } from '../pipeline/config.js';
import { readJsonSync, writeJsonAtomicSync } from './files.js';
import { sleep } from './sleep.js';
import { ShardReader, type StreamRecord, compareSeq, listShardIds, readRange } from './shard-reader.js';

export interface ShardRange {
  shardId: string;
  first: string;
  last: string;
}

export interface DeliveryState {
  /** Last sequence number delivered, per shard. */
  shards: Record<string, string>;
  inFlight?: { key: string; ranges: ShardRange[] };
}

export interface DeliveryStats {
  recordsIn: number;
  recordsDelivered: number;
  objectsWritten: number;
  bytesWritten: number;
  deliveryErrors: number;
  errorObjects: number;
  lastObjectKey: string | undefined;
}

export interface FirehoseOptions {
  kinesis: KinesisClient;
  s3: S3Client;
  sourceStream: string;
  bucket: string;
  settings: DeliverySettings;
  stateFile: string;
  now?: () => number;
  /** Wait after an empty poll (default 200 ms), doubling while idle up to maxIdlePollMs (default 1000). */
  idlePollMs?: number;
  maxIdlePollMs?: number;
  onError?: (e: unknown) => void;
  /** Called after each object is written (tests watch the cadence). */
  onObject?: (key: string, records: number) => void;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** Expands Firehose's `!{timestamp:…}` (Java DateTimeFormatter subset) and `!{firehose:…}` placeholders. */
export function expandPrefix(prefix: string, arrivalMs: number, errorOutputType?: string): string {
  const d = new Date(arrivalMs);
  const parts: Record<string, string> = {
    yyyy: String(d.getUTCFullYear()),
    MM: pad(d.getUTCMonth() + 1),
    dd: pad(d.getUTCDate()),
    HH: pad(d.getUTCHours()),
    mm: pad(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds()),
  };
  return prefix
    .replace(/!\{timestamp:([^}]+)\}/g, (_, fmt: string) =>
      fmt.replace(/yyyy|MM|dd|HH|mm|ss/g, (t) => parts[t] ?? t),
    )
    .replace(/!\{firehose:error-output-type\}/g, errorOutputType ?? 'processing-failed')
    .replace(/!\{firehose:random-string\}/g, () => Math.random().toString(36).slice(2, 13));
}

/** Firehose's object name: `<name>-1-YYYY-MM-DD-HH-MM-SS-<uuid>`; the uuid is derived from the ranges. */
export function objectName(
  deliveryStreamName: string,
  arrivalMs: number,
  ranges: readonly ShardRange[],
): string {
  const d = new Date(arrivalMs);
  const time = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}-${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}`;
  const h = createHash('sha256')
    .update(ranges.map((r) => `${r.shardId}:${r.first}`).join(','))
    .digest('hex');
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  return `${deliveryStreamName}-1-${time}-${id}`;
}

const orderRecords = (records: StreamRecord[]): StreamRecord[] =>
  records.sort(
    (a, b) =>
      a.arrivalMs - b.arrivalMs ||
      (a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0) ||
      compareSeq(a.sequenceNumber, b.sequenceNumber),
  );

function rangesOf(records: readonly StreamRecord[]): ShardRange[] {
  const by = new Map<string, ShardRange>();
  for (const r of records) {
    const x = by.get(r.shardId);
    if (x === undefined)
      by.set(r.shardId, { shardId: r.shardId, first: r.sequenceNumber, last: r.sequenceNumber });
    else {
      if (compareSeq(r.sequenceNumber, x.first) < 0) x.first = r.sequenceNumber;
      if (compareSeq(r.sequenceNumber, x.last) > 0) x.last = r.sequenceNumber;
    }
  }
  return [...by.values()].sort((a, b) => (a.shardId < b.shardId ? -1 : 1));
}

/** Delivery attempts (each with the SDK's own retries) before the records go to the error prefix. */
const DELIVERY_ROUNDS = 3;

/** Records per GetRecords call. */
const READ_LIMIT = 2000;

export class FirehoseDelivery {
  readonly stats: DeliveryStats = {
    recordsIn: 0,
    recordsDelivered: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    deliveryErrors: 0,
    errorObjects: 0,
    lastObjectKey: undefined,
  };
  private state: DeliveryState = { shards: {} };
  private readonly now: () => number;
  private readonly draining = new AbortController();
  private readonly flushNow = { requested: false };
  private crashed = false;
  private loop: Promise<void> | undefined;
  private idle = false;
  private polls = 0;
  private buffer: StreamRecord[] = [];

  constructor(private readonly o: FirehoseOptions) {
    this.now = o.now ?? Date.now;
  }

  get name(): string {
    return this.o.settings.name;
  }

  async start(): Promise<void> {
    this.state = readJsonSync<DeliveryState>(this.o.stateFile) ?? { shards: {} };
    const shards = await listShardIds(this.o.kinesis, this.o.sourceStream);
    this.loop = this.run(shards).catch((e) => {
      if (!(e instanceof CrashedError)) this.o.onError?.(e);
    });
  }

  isIdle(): boolean {
    return this.idle && this.buffer.length === 0;
  }

  pollCount(): number {
    return this.polls;
  }

  bufferedRecords(): number {
    return this.buffer.length;
  }

  /** Deliver the buffer at the next poll instead of waiting for the interval. */
  requestFlush(): void {
    this.flushNow.requested = true;
  }

  async stop(): Promise<void> {
    this.draining.abort();
    await this.loop;
  }

  crash(): void {
    this.crashed = true;
    this.draining.abort();
  }

  private save(): void {
    if (this.crashed) throw new CrashedError();
    writeJsonAtomicSync(this.o.stateFile, this.state);
  }

  private async run(shardIds: string[]): Promise<void> {
    const inFlight = this.state.inFlight;
    if (inFlight !== undefined) {
      // Crashed between "about to write" and "written": the same records to the same key.
      const records: StreamRecord[] = [];
      for (const r of inFlight.ranges) {
        records.push(...(await readRange(this.o.kinesis, this.o.sourceStream, r.shardId, r.first, r.last)));
      }
      await this.deliver(orderRecords(records), inFlight.key);
    }
    const readers = shardIds.map((id) => {
      const after = this.state.shards[id];
      return new ShardReader(
        this.o.kinesis,
        this.o.sourceStream,
        id,
        after === undefined
          ? { type: 'TRIM_HORIZON' }
          : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: after },
      );
    });
    const intervalMs = this.o.settings.bufferIntervalSeconds * 1000;
    const sizeLimit = this.o.settings.bufferSizeMiB * 1024 * 1024;
    const idlePollMs = this.o.idlePollMs ?? 200;
    const maxIdlePollMs = Math.max(idlePollMs, this.o.maxIdlePollMs ?? 1000);
    let emptyStreak = 0;
    let bufferStart: number | undefined;
    let bufferBytes = 0;
    let errors = 0;
    for (;;) {
      if (this.crashed) return;
      const stopping = this.draining.signal.aborted;
      let got = 0;
      try {
        for (const reader of readers) {
          // Moderate reads: one huge GetRecords would hold kinesalite (single-threaded) up for the aggregator's poller.
          const { records } = await reader.read(READ_LIMIT);
          if (this.crashed) return;
          got += records.length;
          for (const r of records) {
            this.buffer.push(r);
            bufferBytes += r.data.byteLength;
          }
        }
        errors = 0;
      } catch (e) {
        if (this.crashed) return;
        this.o.onError?.(e);
        errors++;
        // While stopping, a broken source must not keep us here: deliver what we have.
        if (!stopping) {
          await sleep(Math.min(5000, 200 * 2 ** errors), this.draining.signal);
          continue;
        }
      }
      this.stats.recordsIn += got;
      if (this.buffer.length > 0 && bufferStart === undefined) bufferStart = this.now();
      const due =
        this.buffer.length > 0 &&
        (bufferBytes >= sizeLimit ||
          this.now() - (bufferStart ?? 0) >= intervalMs ||
          this.flushNow.requested ||
          (stopping && got === 0));
      if (due) {
        const records = orderRecords(this.buffer);
        this.buffer = [];
        bufferBytes = 0;
        bufferStart = undefined;
        this.flushNow.requested = false;
        await this.deliver(records, undefined);
      } else if (this.buffer.length === 0) this.flushNow.requested = false;
      this.idle = got === 0 && this.buffer.length === 0;
      this.polls++;
      if (stopping && got === 0 && this.buffer.length === 0) return;
      emptyStreak = got === 0 ? emptyStreak + 1 : 0;
      if (got === 0 && !stopping) {
        const delay =
          bufferStart === undefined
            ? Math.min(maxIdlePollMs, idlePollMs * 2 ** Math.min(emptyStreak - 1, 6))
            : Math.min(idlePollMs, bufferStart + intervalMs - this.now());
        await sleep(Math.max(0, delay), this.draining.signal);
      }
    }
  }

  /** Writes one object (retrying, then the error prefix) and moves the checkpoints past it. */
  private async deliver(records: StreamRecord[], knownKey: string | undefined): Promise<void> {
    const first = records[0];
    if (first === undefined) {
      if (this.state.inFlight !== undefined) {
        delete this.state.inFlight;
        this.save();
      }
      return;
    }
    const ranges = rangesOf(records);
    const settings = this.o.settings;
    const ext = settings.compression === 'GZIP' ? '.gz' : '';
    const key =
      knownKey ??
      `${expandPrefix(settings.prefix, first.arrivalMs)}${objectName(settings.name, first.arrivalMs, ranges)}${ext}`;
    this.state.inFlight = { key, ranges };
    this.save();
    const raw = Buffer.concat(records.map((r) => r.data));
    const body = settings.compression === 'GZIP' ? gzipSync(raw) : raw;
    let delivered = false;
    for (let round = 1; !delivered; round++) {
      if (this.crashed) throw new CrashedError();
      try {
        await putObject(this.o.s3, {
          bucket: this.o.bucket,
          key,
          body,
          contentEncoding: settings.compression === 'GZIP' ? 'gzip' : undefined,
          contentType: 'application/octet-stream',
        });
        delivered = true;
        this.stats.objectsWritten++;
        this.stats.bytesWritten += body.byteLength;
        this.stats.recordsDelivered += records.length;
        this.stats.lastObjectKey = key;
        this.o.onObject?.(key, records.length);
      } catch (e) {
        if (this.crashed) throw new CrashedError();
        this.stats.deliveryErrors++;
        this.o.onError?.(e);
        if (round >= DELIVERY_ROUNDS && (await this.deliverToErrorPrefix(records, e))) delivered = true;
        else await sleep(Math.min(10_000, 500 * 2 ** Math.min(round, 5)));
      }
    }
    for (const r of ranges) {
      const prev = this.state.shards[r.shardId];
      if (prev === undefined || compareSeq(r.last, prev) > 0) this.state.shards[r.shardId] = r.last;
    }
    delete this.state.inFlight;
    this.save();
  }

  /** Firehose's error-output record shape, one JSON line per record, under the error prefix. */
  private async deliverToErrorPrefix(records: StreamRecord[], error: unknown): Promise<boolean> {
    const first = records[0] as StreamRecord;
    const now = this.now();
    const e = error as { name?: string; message?: string };
    const lines = records.map((r) =>
      JSON.stringify({
        attemptsMade: DELIVERY_ROUNDS,
        arrivalTimestamp: r.arrivalMs,
        errorCode: `S3.${e.name ?? 'Error'}`,
        errorMessage: e.message ?? String(error),
        attemptEndingTimestamp: now,
        rawData: Buffer.from(r.data).toString('base64'),
      }),
    );
    const key = `${expandPrefix(this.o.settings.errorPrefix, first.arrivalMs, 'delivery-failed')}${objectName(this.o.settings.name, first.arrivalMs, rangesOf(records))}`;
    try {
      await putObject(this.o.s3, { bucket: this.o.bucket, key, body: `${lines.join('\n')}\n` });
      this.stats.errorObjects++;
      return true;
    } catch {
      return false;
    }
  }
}

class CrashedError extends Error {
  constructor() {
    super('delivery stream crashed (simulated)');
  }
}
