/**
 * Every Kinesis call paypipe makes, for AWS and kinesalite alike:
 * - stream facts: DescribeStreamSummary, every shard (ListShards), creating a stream if missing
 *   and waiting until it is ACTIVE;
 * - reading: shard iterators and GetRecords (the local pipeline's pollers use these directly),
 *   and `readStream`, all shards from a position, up to the tip or following it;
 * - writing: `sendRecords`, PutRecords with the care Kinesis needs (kinesis-sender.ts, re-exported).
 *
 * ListShards is paged by hand: it takes StreamName OR NextToken, never both, so the SDK has no
 * paginator for it (its generic one would resend StreamName with every token).
 */
import type {
  GetRecordsCommandOutput,
  KinesisClient,
  ListShardsCommandOutput,
  ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { PaypipeError } from '../errors.js';
import { errorName } from './errors.js';

export type { KinesisClient } from '@aws-sdk/client-kinesis';

const sdk = () => import('@aws-sdk/client-kinesis');

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

const withSignal = (signal: AbortSignal | undefined) => (signal === undefined ? {} : { abortSignal: signal });

/** The one-line error for a stream that is not there. */
export const missingStream = (streamName: string, action: string, cause?: unknown): PaypipeError =>
  new PaypipeError('CONFIG', `stream ${streamName} does not exist (${action})`, {
    hint: 'check the stream name (--stream), the region, or start/deploy the pipeline',
    cause,
  });

/** Maps SDK errors on a named stream to one-line PaypipeErrors (missing stream, no access). */
export function streamError(e: unknown, streamName: string, action: string): unknown {
  const name = errorName(e);
  if (name === 'ResourceNotFoundException') return missingStream(streamName, action, e);
  if (name === 'AccessDeniedException') {
    return new PaypipeError('AWS', `access denied to stream ${streamName} (${action})`, {
      hint: 'the credentials in use need kinesis permissions on this stream',
      cause: e,
    });
  }
  return e;
}

// ------------------------------------------------------------------------------- stream facts

export interface StreamSummary {
  name: string;
  arn?: string | undefined;
  /** CREATING, ACTIVE, UPDATING, DELETING. */
  status?: string | undefined;
  openShards?: number | undefined;
  mode?: 'PROVISIONED' | 'ON_DEMAND' | undefined;
  /** How long the stream keeps records (hours). */
  retentionHours?: number | undefined;
}

/**
 * DescribeStreamSummary, or undefined when the stream does not exist. Other errors are the SDK's
 * own (callers tell "no permission" from "broken" by name).
 */
export async function describeStreamSummary(
  client: KinesisClient,
  streamName: string,
): Promise<StreamSummary | undefined> {
  const { DescribeStreamSummaryCommand } = await sdk();
  try {
    const d = (await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))
      .StreamDescriptionSummary;
    const mode = d?.StreamModeDetails?.StreamMode;
    return {
      name: streamName,
      arn: d?.StreamARN,
      status: d?.StreamStatus,
      openShards: d?.OpenShardCount,
      mode: mode === 'ON_DEMAND' || mode === 'PROVISIONED' ? mode : undefined,
      retentionHours: d?.RetentionPeriodHours,
    };
  } catch (e) {
    if (errorName(e) === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

/**
 * Creates the stream unless it exists (never recreates, never reshards). Returns whether it was
 * created and its open shards (those of the existing stream when it was there already).
 */
export async function ensureStream(
  client: KinesisClient,
  streamName: string,
  shardCount: number,
): Promise<{ created: boolean; openShards: number }> {
  let existing = await describeStreamSummary(client, streamName);
  if (existing?.status === 'CREATING') {
    // Being created (by another `up`): it has no open shards to report until it is ACTIVE.
    await waitForStreamActive(client, streamName);
    existing = await describeStreamSummary(client, streamName);
  }
  if (existing !== undefined) return { created: false, openShards: existing.openShards ?? shardCount };
  const { CreateStreamCommand } = await sdk();
  let created = true;
  try {
    await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: shardCount }));
  } catch (e) {
    // Someone else created it meanwhile: fine.
    if (errorName(e) !== 'ResourceInUseException') throw e;
    created = false;
  }
  // Readers started on a stream still CREATING would find no shards (kinesalite lists none, AWS
  // refuses ListShards) and read nothing, ever: the stream is usable only once it is ACTIVE.
  await waitForStreamActive(client, streamName);
  return { created, openShards: shardCount };
}

/**
 * Waits (the SDK's StreamExists waiter) until the stream is ACTIVE: a stream being created has no
 * shards to read yet. Polls quickly at first, because kinesalite is ACTIVE within milliseconds.
 */
export async function waitForStreamActive(
  client: KinesisClient,
  streamName: string,
  o: { maxWaitSeconds?: number } = {},
): Promise<void> {
  const { waitUntilStreamExists } = await sdk();
  const maxWaitTime = o.maxWaitSeconds ?? 120;
  try {
    await waitUntilStreamExists(
      { client, maxWaitTime, minDelay: 0.05, maxDelay: 2 },
      { StreamName: streamName },
    );
  } catch (e) {
    const cause = streamError(e, streamName, 'DescribeStream');
    if (cause !== e) throw cause;
    throw new PaypipeError('AWS', `stream ${streamName} is not ACTIVE after ${maxWaitTime} s`, {
      hint: 'check its status (aws kinesis describe-stream-summary) and try again',
      cause: e,
    });
  }
}

export interface ShardInfo {
  shardId: string;
  parentShardId?: string | undefined;
  closed: boolean;
}

/** Every shard of the stream, open and closed (ListShards, page by page). */
export async function listShards(
  client: KinesisClient,
  streamName: string,
  o: { pageSize?: number } = {},
): Promise<ShardInfo[]> {
  const { ListShardsCommand } = await sdk();
  const out: ShardInfo[] = [];
  let nextToken: string | undefined;
  do {
    let res: ListShardsCommandOutput;
    try {
      // StreamName and NextToken are mutually exclusive on ListShards.
      res = await client.send(
        new ListShardsCommand({
          ...(nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken }),
          ...(o.pageSize === undefined ? {} : { MaxResults: o.pageSize }),
        }),
      );
    } catch (e) {
      throw streamError(e, streamName, 'ListShards');
    }
    for (const s of res.Shards ?? []) {
      if (s.ShardId === undefined) continue;
      out.push({
        shardId: s.ShardId,
        parentShardId: s.ParentShardId,
        closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      });
    }
    nextToken = res.NextToken;
  } while (nextToken !== undefined);
  return out;
}

// -------------------------------------------------------------------------------------- reading

export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  /** ApproximateArrivalTimestamp, epoch ms. */
  arrivalMs: number;
  data: Uint8Array;
}

/** Where a shard iterator starts. */
export type ShardStart =
  | { type: 'TRIM_HORIZON' }
  | { type: 'LATEST' }
  | { type: 'AT_TIMESTAMP'; timestampMs: number }
  | { type: 'AFTER_SEQUENCE_NUMBER' | 'AT_SEQUENCE_NUMBER'; sequenceNumber: string };

/** GetShardIterator; errors on the stream become PaypipeErrors (streamError). */
export async function getShardIterator(
  client: KinesisClient,
  streamName: string,
  shardId: string,
  start: ShardStart,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const { GetShardIteratorCommand } = await sdk();
  const type: ShardIteratorType = start.type;
  try {
    const res = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(start.type === 'AT_TIMESTAMP' ? { Timestamp: new Date(start.timestampMs) } : {}),
        ...('sequenceNumber' in start ? { StartingSequenceNumber: start.sequenceNumber } : {}),
      }),
      withSignal(signal),
    );
    return res.ShardIterator;
  } catch (e) {
    throw streamError(e, streamName, 'GetShardIterator');
  }
}

export interface RecordsPage {
  records: StreamRecord[];
  /** Undefined once a closed shard is read to its end. */
  nextIterator: string | undefined;
  millisBehindLatest: number;
  /** The shards a closed one was split or merged into. */
  childShards: string[];
}

/**
 * One GetRecords call. SDK errors are thrown as they are: an `ExpiredIteratorException` is the
 * caller's cue to ask for a new iterator.
 */
export async function getRecords(
  client: KinesisClient,
  shardId: string,
  iterator: string,
  limit: number,
  signal?: AbortSignal,
): Promise<RecordsPage> {
  const { GetRecordsCommand } = await sdk();
  const res: GetRecordsCommandOutput = await client.send(
    new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
    withSignal(signal),
  );
  const records: StreamRecord[] = [];
  for (const r of res.Records ?? []) {
    if (r.SequenceNumber === undefined) continue;
    records.push({
      shardId,
      sequenceNumber: r.SequenceNumber,
      partitionKey: r.PartitionKey ?? '',
      arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? 0,
      data: r.Data ?? new Uint8Array(0),
    });
  }
  return {
    records,
    nextIterator: res.NextShardIterator,
    millisBehindLatest: res.MillisBehindLatest ?? 0,
    childShards: (res.ChildShards ?? []).flatMap((c) => (c.ShardId === undefined ? [] : [c.ShardId])),
  };
}

/**
 * `readStream` reads a stream across all of its shards from a position (trim horizon, latest, or a
 * timestamp), either up to the tip ("what is in there now") or following it. One loop per shard
 * feeds a bounded queue (a slow consumer stops the GetRecords calls instead of buffering the stream
 * in memory); records of one shard come out in sequence order, shards are interleaved. When a
 * shard closes (resharding), its children are read too.
 */
export type StreamPosition =
  | { type: 'trim-horizon' }
  | { type: 'latest' }
  | { type: 'at-timestamp'; timestampMs: number };

export interface ReadStreamOptions {
  position: StreamPosition;
  /** Keep polling at the tip instead of ending once every shard is caught up. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Pause between polls of a shard that is at its tip (follow mode). Default 1000 ms. */
  idlePollMs?: number;
  /** Pause between GetRecords calls on a shard with more data; AWS allows 5 calls/s per shard. */
  minIntervalMs?: number;
  /** Records per GetRecords call (max 10,000). */
  batchLimit?: number;
  /** Records buffered between the shard loops and the consumer before the loops pause. */
  highWater?: number;
  /**
   * Set for kinesalite: its GetShardIterator AT_TIMESTAMP never answers when no record of the
   * shard is at or after the timestamp, so read from the trim horizon and drop older records here.
   */
  emulateAtTimestamp?: boolean;
}

/** A queue with backpressure between N producer loops and one async-iterator consumer. */
class RecordQueue {
  private items: StreamRecord[] = [];
  private head = 0;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducers: Array<() => void> = [];
  error: unknown;
  producersLeft = 0;

  constructor(private readonly highWater: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  async push(r: StreamRecord, signal: AbortSignal): Promise<void> {
    while (this.size >= this.highWater && !signal.aborted) {
      await new Promise<void>((res) => this.wakeProducers.push(res));
    }
    this.items.push(r);
    this.notifyConsumer();
  }

  shift(): StreamRecord | undefined {
    if (this.head >= this.items.length) return undefined;
    const r = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.size < this.highWater / 2) this.releaseProducers();
    return r;
  }

  releaseProducers(): void {
    const w = this.wakeProducers;
    this.wakeProducers = [];
    for (const f of w) f();
  }

  notifyConsumer(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = undefined;
    w?.();
  }

  waitForData(): Promise<void> {
    return new Promise((res) => {
      this.wakeConsumer = res;
    });
  }
}

/**
 * Yields the stream's records. Ends when every shard is caught up (not in follow mode), when the
 * consumer stops iterating, or when `signal` aborts.
 */
export async function* readStream(
  client: KinesisClient,
  streamName: string,
  o: ReadStreamOptions,
): AsyncGenerator<StreamRecord, void, undefined> {
  const follow = o.follow ?? false;
  const idlePollMs = o.idlePollMs ?? 1000;
  const minIntervalMs = o.minIntervalMs ?? 200;
  const limit = Math.min(o.batchLimit ?? 10_000, 10_000);
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const queue = new RecordQueue(o.highWater ?? 10_000);
  const known = new Set<string>();
  const emulate = o.emulateAtTimestamp === true && o.position.type === 'at-timestamp';
  const cutoffMs = o.position.type === 'at-timestamp' ? o.position.timestampMs : 0;

  const startOf = (pos: StreamPosition): ShardStart =>
    pos.type === 'latest'
      ? { type: 'LATEST' }
      : pos.type === 'trim-horizon' || emulate
        ? { type: 'TRIM_HORIZON' }
        : { type: 'AT_TIMESTAMP', timestampMs: pos.timestampMs };

  const readShard = async (shardId: string, startAt: StreamPosition): Promise<void> => {
    let lastSeq: string | undefined;
    const iteratorFor = (): Promise<string | undefined> =>
      getShardIterator(
        client,
        streamName,
        shardId,
        lastSeq === undefined ? startOf(startAt) : { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lastSeq },
        stop.signal,
      );
    let iterator = await iteratorFor();
    while (iterator !== undefined && !stop.signal.aborted) {
      let page: RecordsPage;
      try {
        page = await getRecords(client, shardId, iterator, limit, stop.signal);
      } catch (e) {
        if (stop.signal.aborted) return;
        // Iterators live 5 minutes; a paused consumer can outlive one. Resume where we were.
        if (errorName(e) === 'ExpiredIteratorException') {
          iterator = await iteratorFor();
          continue;
        }
        throw streamError(e, streamName, 'GetRecords');
      }
      for (const r of page.records) {
        lastSeq = r.sequenceNumber;
        if (emulate && r.arrivalMs < cutoffMs) continue;
        await queue.push(r, stop.signal);
        if (stop.signal.aborted) return;
      }
      if (page.nextIterator === undefined) {
        // Closed by a reshard: its children carry on from where it ended.
        for (const c of page.childShards) startShard(c, { type: 'trim-horizon' });
        return;
      }
      iterator = page.nextIterator;
      const atTip = page.records.length === 0 && page.millisBehindLatest === 0;
      if (atTip && !follow) return;
      await sleep(atTip ? idlePollMs : minIntervalMs, stop.signal);
    }
  };

  function startShard(shardId: string, pos: StreamPosition): void {
    if (known.has(shardId)) return;
    known.add(shardId);
    queue.producersLeft++;
    readShard(shardId, pos)
      .catch((e: unknown) => {
        if (queue.error === undefined) queue.error = e;
        stop.abort();
      })
      .finally(() => {
        queue.producersLeft--;
        queue.notifyConsumer();
      });
  }

  try {
    const shards = await listShards(client, streamName);
    // LATEST on a closed shard would never yield anything; every other position reads them all.
    for (const s of shards) {
      if (o.position.type === 'latest' && s.closed) continue;
      startShard(s.shardId, o.position);
    }
    for (;;) {
      const r = queue.shift();
      if (r !== undefined) {
        yield r;
        continue;
      }
      if (queue.error !== undefined) throw queue.error;
      if (queue.producersLeft === 0 || stop.signal.aborted) return;
      await queue.waitForData();
    }
  } finally {
    stop.abort();
    queue.releaseProducers();
    o.signal?.removeEventListener('abort', onOuterAbort);
  }
}

// -------------------------------------------------------------------------------------- writing

// `sendRecords` (PutRecords with batching, bounded concurrency and per-entry retries) is in
// kinesis-sender.ts; the rest of the code imports it from here with every other Kinesis call.
export {
  type FailedRecord,
  type SendOptions,
  type SendRecord,
  SendStoppedError,
  type SendSummary,
  sendRecords,
} from './kinesis-sender.js';

/**
 * Starts a uniform resharding of a provisioned stream to `shards` open shards (UpdateShardCount);
 * the stream is UPDATING until it is done (see waitForCapacity).
 */
export async function updateShardCount(
  client: KinesisClient,
  streamName: string,
  shards: number,
): Promise<void> {
  const { UpdateShardCountCommand } = await sdk();
  await client.send(
    new UpdateShardCountCommand({
      StreamName: streamName,
      TargetShardCount: shards,
      ScalingType: 'UNIFORM_SCALING',
    }),
  );
}

/** Switches the capacity mode (UpdateStreamMode takes the stream's ARN). */
export async function updateStreamMode(
  client: KinesisClient,
  streamArn: string,
  mode: 'ON_DEMAND' | 'PROVISIONED',
): Promise<void> {
  const { UpdateStreamModeCommand } = await sdk();
  await client.send(
    new UpdateStreamModeCommand({ StreamARN: streamArn, StreamModeDetails: { StreamMode: mode } }),
  );
}
