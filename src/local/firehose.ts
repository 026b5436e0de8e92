/**
 * Kinesis Data Firehose (Kinesis source → S3), emulated: reads every shard of its source stream
 * with its own checkpoints, buffers by size and interval, and writes one object per flush under
 * the configured prefix with `!{timestamp:…}` expanded from the arrival time of the buffer's
 * first record (UTC), as Firehose does with the same settings: each record's bytes as they were
 * put, followed by a newline when `appendNewline` is set (Firehose's `AppendDelimiterToRecord`
 * processor), GZIP when configured, named `<deliveryStreamName>-1-YYYY-MM-DD-HH-MM-SS-<id>` plus
 * the configured `fileExtension` (Firehose's own `.gz` when there is none and it compresses).
 *
 * Idempotent across crashes: the object's shard ranges and key are persisted before the write,
 * and <id> is derived from those ranges, so a restart re-reads the same records and rewrites the
 * same key instead of adding a second copy. Records are ordered by (arrival, shard, sequence) so
 * the rewritten object is byte-identical.
 *
 * Bounded under faults: a delivery S3 keeps refusing (the bucket was deleted, the error prefix
 * fails too) is *parked* — it keeps retrying every second with the reason in the status, and the
 * delivery stream reads nothing more meanwhile (the records wait on the stream, so memory stays
 * flat) — and resumes on its own once S3 takes it. A stop that cannot wait for that abandons the
 * delivery: the object in flight and the buffer are written to `pending/<name>/` in the data dir
 * and the checkpoints move past them; the next start delivers those objects first, under the
 * same keys.
 */
import type { KinesisClient } from '../aws/kinesis.js';
import { putObject, type S3Client } from '../aws/s3.js';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { DeliverySettings } from '../pipeline/config.js';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonSync, writeJsonAtomicSync } from './files.js';
import { sleep } from './sleep.js';
import { ShardReader, type StreamRecord, compareSeq, listShardIds, readRange } from './shard-reader.js';

export interface ShardRange {
  shardId: string;
  first: string;
  last: string;
}

export interface DeliveryState {
  /** Last sequence number delivered (or persisted as pending), per shard. */
  shards: Record<string, string>;
  inFlight?: { key: string; ranges: ShardRange[] };
}

const SEQ = /^\d+$/;
const isRange = (r: unknown): r is ShardRange =>
  typeof r === 'object' &&
  r !== null &&
  typeof (r as ShardRange).shardId === 'string' &&
  SEQ.test(String((r as ShardRange).first)) &&
  SEQ.test(String((r as ShardRange).last));

/** The checkpoint file's shape, checked: a damaged one is refused by name, never half-used. */
export function checkDeliveryState(v: unknown): DeliveryState | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const { shards, inFlight } = v as Partial<DeliveryState>;
  if (typeof shards !== 'object' || shards === null || Array.isArray(shards))
    return '"shards" is not an object';
  for (const [shard, seq] of Object.entries(shards)) {
    if (typeof seq !== 'string' || !SEQ.test(seq)) return `"shards.${shard}" is not a sequence number`;
  }
  if (inFlight !== undefined) {
    if (
      typeof inFlight !== 'object' ||
      inFlight === null ||
      typeof inFlight.key !== 'string' ||
      !Array.isArray(inFlight.ranges) ||
      !inFlight.ranges.every(isRange)
    ) {
      return '"inFlight" is not { key, ranges: [{ shardId, first, last }] }';
    }
  }
  return v as DeliveryState;
}

/** A pending object as persisted: the records themselves (the body is rebuilt identically from them). */
interface PendingFile {
  version: 1;
  deliveryStream: string;
  bucket: string;
  key: string;
  savedAt: string;
  reason?: string;
  records: Array<{
    shardId: string;
    sequenceNumber: string;
    partitionKey: string;
    arrivalMs: number;
    data: string;
  }>;
}

function checkPendingFile(v: unknown): PendingFile | string {
  const f = v as Partial<PendingFile>;
  if (typeof v !== 'object' || v === null || f.version !== 1) return 'not a version 1 pending object';
  if (typeof f.key !== 'string' || f.key === '') return '"key" is missing';
  if (!Array.isArray(f.records) || f.records.length === 0) return '"records" is missing or empty';
  for (const r of f.records) {
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.shardId !== 'string' ||
      !SEQ.test(String(r.sequenceNumber)) ||
      typeof r.data !== 'string' ||
      typeof r.arrivalMs !== 'number'
    ) {
      return 'a record is not { shardId, sequenceNumber, partitionKey, arrivalMs, data }';
    }
  }
  return f as PendingFile;
}

/** An object on its way to S3: its records, the key they go to, and the pending file it came from. */
interface OutObject {
  key: string;
  records: StreamRecord[];
  ranges: ShardRange[];
  file?: string;
}

/** Why deliveries stopped moving, while they are parked. */
export interface ParkedDelivery {
  /** `bucket-missing`: S3 says the bucket does not exist; `refused`: any other error, after the error prefix failed too. */
  kind: 'bucket-missing' | 'refused';
  bucket: string;
  reason: string;
  /** ISO time the delivery parked. */
  since: string;
  /** Records waiting in the parked object (more wait on the stream). */
  records: number;
}

/** What an abandoned delivery stream left behind (see abandon()). */
export interface AbandonReport {
  name: string;
  /** Records written to pending files by this abandon (plus those already pending from an earlier stop). */
  records: number;
  objects: number;
  /** The directory holding the pending objects. */
  dir: string;
  /** Records that could not be saved (e.g. disk full): their checkpoint did not move, they stay on the stream. */
  unsaved?: { records: number; reason: string };
  /** Why the delivery was not finished (the parked reason, if it was parked). */
  reason?: string;
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
  /** Where abandoned objects are persisted and picked up at the next start. */
  pendingDir: string;
  now?: () => number;
  /** Wait after an empty poll (default 200 ms), doubling while idle up to maxIdlePollMs (default 1000). */
  idlePollMs?: number;
  maxIdlePollMs?: number;
  onError?: (e: unknown) => void;
  /**
   * An error the delivery stream cannot go on after (a storage fault writing its checkpoint, an
   * unexpected error): its loop has ended; the pipeline should stop.
   */
  onFatal?: (e: unknown) => void;
  /** Wait between retries of a parked delivery (default 1000 ms). */
  parkedRetryMs?: number;
  /** Called when deliveries park (with why) and when they resume (undefined). */
  onPark?: (parked: ParkedDelivery | undefined) => void;
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

/** The name's ending: the configured FileExtension, else what Firehose adds for its compression. */
export function objectExtension(s: Pick<DeliverySettings, 'compression' | 'fileExtension'>): string {
  if (s.fileExtension !== '') return s.fileExtension;
  return s.compression === 'GZIP' ? '.gz' : '';
}

const NEWLINE = Buffer.from('\n');

/**
 * An object's bytes: every record as it was put, then (appendNewline) the delimiter Firehose's
 * AppendDelimiterToRecord processor appends, whatever the record holds (an empty record becomes
 * an empty line, a record with newlines of its own keeps them); then the compression.
 */
export function objectBody(
  s: Pick<DeliverySettings, 'compression' | 'appendNewline'>,
  records: readonly { data: Uint8Array }[],
): Buffer {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    parts.push(r.data);
    if (s.appendNewline) parts.push(NEWLINE);
  }
  const raw = Buffer.concat(parts);
  return s.compression === 'GZIP' ? gzipSync(raw) : raw;
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

const isBucketMissing = (e: unknown): boolean => {
  const x = e as { name?: string; Code?: string };
  return x.name === 'NoSuchBucket' || x.Code === 'NoSuchBucket';
};

const errLine = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e);

const fromPending = (r: PendingFile['records'][number]): StreamRecord => ({
  shardId: r.shardId,
  sequenceNumber: r.sequenceNumber,
  partitionKey: r.partitionKey,
  arrivalMs: r.arrivalMs,
  data: Buffer.from(r.data, 'base64'),
});

let pendingSeq = 0;

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
  /** Stop reading, deliver what was read. */
  private readonly draining = new AbortController();
  /** Cut every wait and the request in flight: the delivery was crashed or abandoned. */
  private readonly halt = new AbortController();
  private readonly flushNow = { requested: false };
  private crashed = false;
  private abandoned: AbandonReport | undefined;
  private loop: Promise<void> | undefined;
  private idle = false;
  private polls = 0;
  private buffer: StreamRecord[] = [];
  /** Objects an earlier stop persisted, delivered before anything else. */
  private queue: OutObject[] = [];
  /** The object being written (retried while parked). */
  private current: OutObject | undefined;
  private parkedInfo: ParkedDelivery | undefined;
  /**
   * When the stop began (epoch ms): a stop delivers what had arrived by then, not what producers
   * keep adding meanwhile — that stays on the stream for the next start, or a stop would never end.
   */
  private horizon: number | undefined;

  constructor(private readonly o: FirehoseOptions) {
    this.now = o.now ?? Date.now;
  }

  get name(): string {
    return this.o.settings.name;
  }

  async start(): Promise<void> {
    this.state = readJsonSync(this.o.stateFile, { validate: checkDeliveryState }) ?? { shards: {} };
    this.queue = this.loadPending();
    // The pending files hold those records now: never read them from the stream again, even if
    // the stop that wrote them could not save the checkpoint.
    for (const obj of this.queue) this.advance(obj.ranges);
    const inFlight = this.state.inFlight;
    if (inFlight !== undefined && this.queue.some((q) => q.key === inFlight.key)) delete this.state.inFlight;
    const shards = await listShardIds(this.o.kinesis, this.o.sourceStream);
    this.loop = this.run(shards).catch((e) => {
      if (e instanceof StoppedError) return;
      // A loop that ended must not look alive: the pipeline stops and says why.
      (this.o.onFatal ?? this.o.onError)?.(e);
    });
  }

  isIdle(): boolean {
    return this.idle && this.buffer.length === 0 && this.current === undefined && this.queue.length === 0;
  }

  pollCount(): number {
    return this.polls;
  }

  /** Records taken from the stream (or a pending file) and not yet in S3. */
  bufferedRecords(): number {
    return (
      this.buffer.length +
      (this.current?.records.length ?? 0) +
      this.queue.reduce((n, q) => n + q.records.length, 0)
    );
  }

  /** Objects persisted by an earlier stop and not delivered yet. */
  pendingObjects(): number {
    return this.queue.length + (this.current?.file === undefined ? 0 : 1);
  }

  /** Set while a delivery keeps failing and is retried on its own; undefined otherwise. */
  parked(): ParkedDelivery | undefined {
    return this.parkedInfo === undefined ? undefined : { ...this.parkedInfo };
  }

  /** Deliver the buffer at the next poll instead of waiting for the interval. */
  requestFlush(): void {
    this.flushNow.requested = true;
  }

  /**
   * Clean stop: read what had arrived on the stream by now, deliver it, save the checkpoints.
   * Waits as long as that takes (bound it with abandon()).
   */
  async stop(): Promise<void> {
    this.horizon ??= Date.now();
    this.draining.abort();
    await this.loop;
  }

  /** Crash stop: abandon everything where it is; nothing more is written. */
  crash(): void {
    this.crashed = true;
    this.draining.abort();
    this.halt.abort();
  }

  /**
   * Gives up delivering now (a stop's deadline passed): the object in flight and the buffer are
   * written to the pending directory, the checkpoints move past them, and nothing more is written
   * or sent. Synchronous, so no loop step can interleave. Idempotent. The next start delivers the
   * pending objects first.
   */
  abandon(): AbandonReport {
    if (this.abandoned !== undefined) return this.abandoned;
    const report: AbandonReport = { name: this.name, records: 0, objects: 0, dir: this.o.pendingDir };
    // Set first: from here on the loop's own saves refuse (see save()).
    this.abandoned = report;
    this.draining.abort();
    if (this.crashed) return report;
    const reason = this.parkedInfo?.reason;
    if (reason !== undefined) report.reason = reason;
    // Pending from an earlier stop and still not delivered: they stay in their files.
    for (const q of [...this.queue, ...(this.current?.file === undefined ? [] : [this.current])]) {
      report.records += q.records.length;
      report.objects++;
    }
    const toSave: OutObject[] = [];
    if (this.current !== undefined && this.current.file === undefined) toSave.push(this.current);
    if (this.buffer.length > 0) toSave.push(this.makeObject(orderRecords([...this.buffer])));
    const saved: OutObject[] = [];
    try {
      for (const obj of toSave) {
        this.writePending(obj, reason);
        saved.push(obj);
        report.records += obj.records.length;
        report.objects++;
      }
    } catch (e) {
      const left = toSave.filter((x) => !saved.includes(x)).reduce((n, x) => n + x.records.length, 0);
      report.unsaved = { records: left, reason: errLine(e) };
    }
    if (saved.length > 0) {
      for (const obj of saved) this.advance(obj.ranges);
      if (this.current !== undefined && saved.includes(this.current)) delete this.state.inFlight;
      try {
        writeJsonAtomicSync(this.o.stateFile, this.state);
      } catch {
        // The pending files are what counts: the next start moves the checkpoints past them.
      }
    }
    this.halt.abort();
    return report;
  }

  private checkHalt(): void {
    if (this.crashed || this.abandoned !== undefined) throw new StoppedError();
  }

  private save(): void {
    this.checkHalt();
    writeJsonAtomicSync(this.o.stateFile, this.state);
  }

  private advance(ranges: readonly ShardRange[]): void {
    for (const r of ranges) {
      const prev = this.state.shards[r.shardId];
      if (prev === undefined || compareSeq(r.last, prev) > 0) this.state.shards[r.shardId] = r.last;
    }
  }

  private makeObject(records: StreamRecord[]): OutObject {
    const first = records[0] as StreamRecord;
    const ranges = rangesOf(records);
    const s = this.o.settings;
    const ext = objectExtension(s);
    const key = `${expandPrefix(s.prefix, first.arrivalMs)}${objectName(s.name, first.arrivalMs, ranges)}${ext}`;
    return { key, records, ranges };
  }

  private body(records: readonly StreamRecord[]): Buffer {
    return objectBody(this.o.settings, records);
  }

  private writePending(obj: OutObject, reason: string | undefined): void {
    const base = obj.key.slice(obj.key.lastIndexOf('/') + 1).replace(/[^\w.-]/g, '_');
    const file = join(
      this.o.pendingDir,
      `${String(this.now()).padStart(15, '0')}-${String(++pendingSeq).padStart(6, '0')}-${base}.json`,
    );
    const doc: PendingFile = {
      version: 1,
      deliveryStream: this.name,
      bucket: this.o.bucket,
      key: obj.key,
      savedAt: new Date(this.now()).toISOString(),
      ...(reason === undefined ? {} : { reason }),
      records: obj.records.map((r) => ({
        shardId: r.shardId,
        sequenceNumber: r.sequenceNumber,
        partitionKey: r.partitionKey,
        arrivalMs: r.arrivalMs,
        data: Buffer.from(r.data).toString('base64'),
      })),
    };
    writeJsonAtomicSync(file, doc);
  }

  private loadPending(): OutObject[] {
    let names: string[];
    try {
      names = readdirSync(this.o.pendingDir).filter((n) => n.endsWith('.json'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names.sort().map((n) => {
      const file = join(this.o.pendingDir, n);
      const doc = readJsonSync(file, {
        validate: checkPendingFile,
        hint: `it holds records a stop could not deliver to ${this.o.bucket}: restore it, or move it away to give those records up`,
      }) as PendingFile;
      const records = orderRecords(doc.records.map(fromPending));
      return { key: doc.key, records, ranges: rangesOf(records), file };
    });
  }

  private async run(shardIds: string[]): Promise<void> {
    // Objects an earlier stop could not deliver go first, under their own keys.
    while (this.queue.length > 0) {
      const obj = this.queue.shift() as OutObject;
      await this.deliverObject(obj);
      rmSync(obj.file as string, { force: true });
    }
    const inFlight = this.state.inFlight;
    if (inFlight !== undefined) {
      // Crashed between "about to write" and "written": the same records to the same key.
      const records = await this.readRanges(inFlight.ranges);
      if (records.length === 0) {
        delete this.state.inFlight;
        this.save();
      } else
        await this.deliverObject({
          key: inFlight.key,
          records: orderRecords(records),
          ranges: inFlight.ranges,
        });
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
    /** Shards read up to the stop's horizon: nothing more is taken from them. */
    const past = new Set<ShardReader>();
    for (;;) {
      this.checkHalt();
      const stopping = this.draining.signal.aborted;
      let got = 0;
      try {
        for (const reader of readers) {
          if (past.has(reader)) continue;
          // Moderate reads: one huge GetRecords would hold kinesalite (single-threaded) up for the aggregator's poller.
          const { records } = await reader.read(READ_LIMIT);
          this.checkHalt();
          for (const r of records) {
            // Arrived after the stop began: left on the stream (the checkpoint stays before it).
            if (this.horizon !== undefined && r.arrivalMs > this.horizon) {
              past.add(reader);
              break;
            }
            got++;
            this.buffer.push(r);
            bufferBytes += r.data.byteLength;
          }
        }
        errors = 0;
      } catch (e) {
        this.checkHalt();
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
        const obj = this.makeObject(orderRecords(this.buffer));
        this.buffer = [];
        bufferBytes = 0;
        bufferStart = undefined;
        this.flushNow.requested = false;
        await this.deliverObject(obj);
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

  /** Re-reads an in-flight object's records, retrying a failing source until halted. */
  private async readRanges(ranges: readonly ShardRange[]): Promise<StreamRecord[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const records: StreamRecord[] = [];
        for (const r of ranges) {
          records.push(...(await readRange(this.o.kinesis, this.o.sourceStream, r.shardId, r.first, r.last)));
        }
        return records;
      } catch (e) {
        this.checkHalt();
        this.o.onError?.(e);
        await sleep(Math.min(5000, 200 * 2 ** attempt), this.halt.signal);
        this.checkHalt();
      }
    }
  }

  private park(kind: ParkedDelivery['kind'], reason: string, obj: OutObject): void {
    if (this.parkedInfo !== undefined) return;
    this.parkedInfo = {
      kind,
      bucket: this.o.bucket,
      reason,
      since: new Date(this.now()).toISOString(),
      records: obj.records.length,
    };
    this.o.onPark?.(this.parked());
  }

  /**
   * Writes one object (retrying; then the error prefix; then parked, retried until S3 takes it
   * or the delivery is halted) and moves the checkpoints past it.
   */
  private async deliverObject(obj: OutObject): Promise<void> {
    this.current = obj;
    if (obj.file === undefined) {
      // The key and ranges are on disk before the write: a crash after it rewrites the same key.
      this.state.inFlight = { key: obj.key, ranges: obj.ranges };
      this.save();
    }
    const body = this.body(obj.records);
    const settings = this.o.settings;
    for (let round = 1; ; round++) {
      this.checkHalt();
      try {
        await putObject(this.o.s3, {
          bucket: this.o.bucket,
          key: obj.key,
          body,
          contentEncoding: settings.compression === 'GZIP' ? 'gzip' : undefined,
          contentType: 'application/octet-stream',
          signal: this.halt.signal,
        });
        this.checkHalt();
        this.stats.objectsWritten++;
        this.stats.bytesWritten += body.byteLength;
        this.stats.recordsDelivered += obj.records.length;
        this.stats.lastObjectKey = obj.key;
        this.o.onObject?.(obj.key, obj.records.length);
        break;
      } catch (e) {
        this.checkHalt();
        this.stats.deliveryErrors++;
        if (isBucketMissing(e)) {
          // The error prefix is in the same bucket: nothing to try but waiting for the bucket.
          this.park('bucket-missing', `bucket ${this.o.bucket} does not exist`, obj);
        } else {
          if (this.parkedInfo === undefined) this.o.onError?.(e);
          if (round >= DELIVERY_ROUNDS) {
            if (await this.deliverToErrorPrefix(obj.records, e)) {
              this.checkHalt();
              break;
            }
            this.checkHalt();
            this.park('refused', errLine(e), obj);
          }
        }
        const wait =
          this.parkedInfo !== undefined
            ? (this.o.parkedRetryMs ?? 1000)
            : Math.min(10_000, 500 * 2 ** Math.min(round, 5));
        await sleep(wait, this.halt.signal);
      }
    }
    if (this.parkedInfo !== undefined) {
      this.parkedInfo = undefined;
      this.o.onPark?.(undefined);
    }
    this.advance(obj.ranges);
    if (obj.file === undefined) delete this.state.inFlight;
    this.save();
    this.current = undefined;
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
      await putObject(this.o.s3, {
        bucket: this.o.bucket,
        key,
        body: `${lines.join('\n')}\n`,
        signal: this.halt.signal,
      });
      this.stats.errorObjects++;
      return true;
    } catch {
      return false;
    }
  }
}

/** The loop was crashed or abandoned: it ends without writing anything more. */
class StoppedError extends Error {
  constructor() {
    super('delivery stream stopped');
  }
}
