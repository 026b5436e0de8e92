/**
 * Reads a Kinesis stream across all of its shards from a position (trim horizon, latest, or a
 * timestamp), either up to the tip ("what is in there now") or following it. Shared by `peek`,
 * `send` checks in tests and `doctor --probe`.
 *
 * One loop per shard feeds a bounded queue (a slow consumer stops the GetRecords calls instead of
 * buffering the stream in memory); records of one shard come out in sequence order, shards are
 * interleaved. When a shard closes (resharding), its children are read too.
 *
 * kinesalite quirk: GetShardIterator AT_TIMESTAMP never answers when no record in the shard is at or
 * after the timestamp (the request hangs), so for the local pipeline `emulateAtTimestamp` reads from
 * the trim horizon and drops older records client-side. Same result, just more bytes read.
 */
import type {
  GetRecordsCommandOutput,
  KinesisClient,
  ListShardsCommandOutput,
  ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { PaypipeError } from '../errors.js';

export type StreamPosition =
  | { type: 'trim-horizon' }
  | { type: 'latest' }
  | { type: 'at-timestamp'; timestampMs: number };

export interface StreamRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  /** ApproximateArrivalTimestamp, epoch ms. */
  arrivalMs: number;
  data: Uint8Array;
}

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
  /** See the module comment; set for kinesalite. */
  emulateAtTimestamp?: boolean;
}

export interface ShardInfo {
  shardId: string;
  parentShardId?: string | undefined;
  closed: boolean;
}

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

const errName = (e: unknown): string => (e as { name?: string }).name ?? '';

/** Maps SDK errors on a named stream to one-line PaypipeErrors (missing stream, no access). */
export function streamError(e: unknown, streamName: string, action: string): unknown {
  const name = errName(e);
  if (name === 'ResourceNotFoundException') {
    return new PaypipeError('CONFIG', `stream ${streamName} does not exist (${action})`, {
      hint: 'check the stream name (--stream), the region, or start/deploy the pipeline',
      cause: e,
    });
  }
  if (name === 'AccessDeniedException') {
    return new PaypipeError('AWS', `access denied to stream ${streamName} (${action})`, {
      hint: 'the credentials in use need kinesis permissions on this stream',
      cause: e,
    });
  }
  return e;
}

/** Every shard of the stream (paginated ListShards). */
export async function listShards(client: KinesisClient, streamName: string): Promise<ShardInfo[]> {
  const { ListShardsCommand } = await import('@aws-sdk/client-kinesis');
  const out: ShardInfo[] = [];
  let nextToken: string | undefined;
  do {
    let res: ListShardsCommandOutput;
    try {
      // StreamName and NextToken are mutually exclusive on ListShards.
      res = await client.send(
        new ListShardsCommand(
          nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken },
        ),
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
  const { GetRecordsCommand, GetShardIteratorCommand } = await import('@aws-sdk/client-kinesis');
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

  const iteratorFor = async (
    shardId: string,
    pos: StreamPosition | { type: 'after'; sequenceNumber: string },
  ): Promise<string | undefined> => {
    let params: {
      StreamName: string;
      ShardId: string;
      ShardIteratorType: ShardIteratorType;
      Timestamp?: Date;
      StartingSequenceNumber?: string;
    };
    const base = { StreamName: streamName, ShardId: shardId };
    if (pos.type === 'after') {
      params = {
        ...base,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: pos.sequenceNumber,
      };
    } else if (pos.type === 'latest') params = { ...base, ShardIteratorType: 'LATEST' };
    else if (pos.type === 'trim-horizon' || emulate) params = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
    else params = { ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(pos.timestampMs) };
    try {
      const res = await client.send(new GetShardIteratorCommand(params), { abortSignal: stop.signal });
      return res.ShardIterator;
    } catch (e) {
      throw streamError(e, streamName, 'GetShardIterator');
    }
  };

  const readShard = async (shardId: string, startAt: StreamPosition): Promise<void> => {
    let lastSeq: string | undefined;
    let iterator = await iteratorFor(shardId, startAt);
    while (iterator !== undefined && !stop.signal.aborted) {
      let res: GetRecordsCommandOutput;
      try {
        res = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), {
          abortSignal: stop.signal,
        });
      } catch (e) {
        if (stop.signal.aborted) return;
        if (errName(e) === 'ExpiredIteratorException') {
          // Iterators live 5 minutes; a paused consumer can outlive one. Resume where we were.
          iterator = await iteratorFor(
            shardId,
            lastSeq === undefined ? startAt : { type: 'after', sequenceNumber: lastSeq },
          );
          continue;
        }
        throw streamError(e, streamName, 'GetRecords');
      }
      const records = res.Records ?? [];
      for (const r of records) {
        if (r.SequenceNumber === undefined) continue;
        lastSeq = r.SequenceNumber;
        const arrivalMs = r.ApproximateArrivalTimestamp?.getTime() ?? 0;
        if (emulate && arrivalMs < cutoffMs) continue;
        await queue.push(
          {
            shardId,
            sequenceNumber: r.SequenceNumber,
            partitionKey: r.PartitionKey ?? '',
            arrivalMs,
            data: r.Data ?? new Uint8Array(0),
          },
          stop.signal,
        );
        if (stop.signal.aborted) return;
      }
      if (res.NextShardIterator === undefined) {
        // Closed by a reshard: its children carry on from where it ended.
        for (const c of res.ChildShards ?? []) {
          if (c.ShardId !== undefined) startShard(c.ShardId, { type: 'trim-horizon' });
        }
        return;
      }
      iterator = res.NextShardIterator;
      const atTip = records.length === 0 && (res.MillisBehindLatest ?? 0) === 0;
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
