/**
 * `doctor --probe`: one canary event through the real dataflow, timing each hop:
 *   input stream (PutRecord) → raw bucket (raw Firehose) and
 *   aggregator → output stream (its window's aggregate) → analytics bucket (analytics Firehose).
 * The canary is recognisable without touching real figures much: transaction_id `CANARY-<uuid>`,
 * merchant `paypipe-doctor-canary`, in XPF (a currency the producer never generates), so its
 * (window, XPF) aggregate is almost surely its own.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeObject } from '../../pipeline/codec.js';
import type { PipelineConfig } from '../../pipeline/config.js';
import { PREFIXES } from '../../pipeline/config.js';
import { type CheckResult, checkProbe, type ProbeHop } from './checks.js';
import { windowOf } from '../../domain/window.js';
import type { ResourceNames } from '../target.js';
import { recentObjects } from './facts.js';

export const CANARY_CURRENCY = 'XPF';
export const CANARY_MERCHANT = 'paypipe-doctor-canary';

export const HOPS = {
  input: 'input stream',
  raw: 'raw bucket',
  output: 'output stream',
  analytics: 'analytics bucket',
} as const;

export interface ProbeOptions {
  kinesis: KinesisClient;
  s3: S3Client;
  names: Pick<ResourceNames, 'inputStream' | 'outputStream' | 'rawBucket' | 'analyticsBucket'>;
  config: PipelineConfig;
  timeoutMs: number;
  pollMs: number;
  now?: () => number;
  signal?: AbortSignal;
  /** Called when a hop is reached, and on every poll with what is still awaited. */
  progress?: (message: string) => void;
  debug?: (message: string) => void;
}

export interface ProbeResult {
  marker: string;
  currency: string;
  windowStart: string;
  hops: ProbeHop[];
  check: CheckResult;
}

interface Canary {
  transaction_id: string;
  amount: number;
  currency: string;
  merchant: string;
  event_timestamp: number;
}

/** What one aggregate record must look like to be the canary's window. */
const isCanaryAggregate = (r: unknown, windowStart: string): boolean => {
  const a = r as { currency?: unknown; window_start?: unknown; transaction_count?: unknown };
  return (
    a !== null &&
    typeof a === 'object' &&
    a.currency === CANARY_CURRENCY &&
    a.window_start === windowStart &&
    typeof a.transaction_count === 'number' &&
    a.transaction_count >= 1
  );
};

/** Iterators at LATEST on every open shard of the output stream, taken before the canary is sent. */
async function outputIterators(kinesis: KinesisClient, stream: string): Promise<Map<string, string>> {
  const { ListShardsCommand, GetShardIteratorCommand } = await import('@aws-sdk/client-kinesis');
  const shards: string[] = [];
  let token: string | undefined;
  do {
    const page = await kinesis.send(
      new ListShardsCommand(token === undefined ? { StreamName: stream } : { NextToken: token }),
    );
    for (const s of page.Shards ?? []) {
      if (s.ShardId !== undefined && s.SequenceNumberRange?.EndingSequenceNumber === undefined)
        shards.push(s.ShardId);
    }
    token = page.NextToken;
  } while (token !== undefined);
  const its = new Map<string, string>();
  for (const shardId of shards) {
    const r = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'LATEST' }),
    );
    if (r.ShardIterator !== undefined) its.set(shardId, r.ShardIterator);
  }
  return its;
}

export async function runProbe(o: ProbeOptions): Promise<ProbeResult> {
  const now = o.now ?? Date.now;
  const { PutRecordCommand, GetRecordsCommand } = await import('@aws-sdk/client-kinesis');
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const marker = `CANARY-${randomUUID()}`;
  const iterators = await outputIterators(o.kinesis, o.names.outputStream);

  const sentAt = now();
  const canary: Canary = {
    transaction_id: marker,
    amount: 1 + Math.floor(Math.random() * 9999),
    currency: CANARY_CURRENCY,
    merchant: CANARY_MERCHANT,
    event_timestamp: sentAt,
  };
  const windowStart = windowOf(sentAt, o.config.aggregator.windowSeconds * 1000).start;
  const hops: ProbeHop[] = [
    { name: HOPS.input },
    { name: HOPS.raw },
    { name: HOPS.output },
    { name: HOPS.analytics },
  ];
  const reach = (name: string): void => {
    const h = hops.find((x) => x.name === name);
    if (h !== undefined && h.latencyMs === undefined) {
      h.latencyMs = now() - sentAt;
      o.progress?.(`probe: ${marker} reached the ${name} after ${h.latencyMs} ms`);
    }
  };
  const reached = (name: string): boolean => hops.find((x) => x.name === name)?.latencyMs !== undefined;

  await o.kinesis.send(
    new PutRecordCommand({
      StreamName: o.names.inputStream,
      PartitionKey: marker,
      Data: Buffer.from(JSON.stringify(canary)),
    }),
  );
  reach(HOPS.input);

  // Objects are read once each; S3 clocks may be a little off ours, so look slightly back.
  const seen = new Set<string>();
  const since = sentAt - 5000;
  const readNewObjects = async (
    bucket: string,
    base: string,
    match: (records: unknown[]) => boolean,
  ): Promise<boolean> => {
    const objects = (await recentObjects(o.s3, bucket, base, now())).filter(
      (x) => x.lastModified >= since && !seen.has(`${bucket}/${x.key}`),
    );
    for (const x of objects.sort((a, b) => a.lastModified - b.lastModified)) {
      const res = await o.s3.send(new GetObjectCommand({ Bucket: bucket, Key: x.key }));
      const bytes = res.Body === undefined ? new Uint8Array() : await res.Body.transformToByteArray();
      const decoded = decodeObject(bytes, x.key);
      // An object still being written is never listed (S3 puts are atomic): safe to mark it read.
      seen.add(`${bucket}/${x.key}`);
      if (match(decoded.records)) return true;
    }
    return false;
  };

  const deadline = sentAt + o.timeoutMs;
  const pending = (): string[] => hops.filter((h) => h.latencyMs === undefined).map((h) => h.name);
  while (pending().length > 0 && now() < deadline && o.signal?.aborted !== true) {
    try {
      if (!reached(HOPS.raw)) {
        const found = await readNewObjects(o.names.rawBucket, PREFIXES.raw, (records) =>
          records.some((r) => (r as { transaction_id?: unknown }).transaction_id === marker),
        );
        if (found) reach(HOPS.raw);
      }
      if (!reached(HOPS.output)) {
        for (const [shardId, it] of iterators) {
          const r = await o.kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
          if (r.NextShardIterator !== undefined) iterators.set(shardId, r.NextShardIterator);
          else iterators.delete(shardId);
          for (const rec of r.Records ?? []) {
            const d = decodeObject(rec.Data ?? new Uint8Array(), `${shardId}/${rec.SequenceNumber}`);
            if (d.records.some((x) => isCanaryAggregate(x, windowStart))) reach(HOPS.output);
          }
        }
      }
      if (!reached(HOPS.analytics)) {
        const found = await readNewObjects(o.names.analyticsBucket, PREFIXES.aggregations, (records) =>
          records.some((x) => isCanaryAggregate(x, windowStart)),
        );
        if (found) reach(HOPS.analytics);
      }
    } catch (e) {
      // A transient read error is retried on the next poll; the timeout bounds the whole probe.
      o.debug?.(`probe poll failed: ${(e as Error).message}`);
    }
    if (pending().length === 0) break;
    o.progress?.(`probe: waiting for the ${pending().join(', ')} (${Math.round((now() - sentAt) / 1000)} s)`);
    try {
      await delay(o.pollMs, undefined, o.signal === undefined ? {} : { signal: o.signal });
    } catch {
      break;
    }
  }
  return {
    marker,
    currency: CANARY_CURRENCY,
    windowStart,
    hops,
    check: checkProbe(marker, hops, o.timeoutMs),
  };
}
