/**
 * `doctor --probe`: one canary event through the real dataflow, timing each hop:
 *   input stream (PutRecord) → raw bucket (raw Firehose) and
 *   aggregator → output stream (its window's aggregate) → analytics bucket (analytics Firehose).
 * The canary is recognisable without touching real figures much: transaction_id `CANARY-<uuid>`,
 * merchant `paypipe-doctor-canary`, in XPF (a currency the producer never generates), so its
 * (window, XPF) aggregate is almost surely its own.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { getRecords, getShardIterator, listShards, sendRecords } from '../../aws/kinesis.js';
import { getObjectBytes } from '../../aws/s3.js';
import { cellsIn } from '../../domain/batch-output.js';
import { windowOf } from '../../domain/window.js';
import { decodeObject } from '../../pipeline/codec.js';
import { PREFIXES, type PipelineConfig } from '../../pipeline/config.js';
import type { ResourceNames } from '../target.js';
import type { ProbeFact, ProbeHop } from './facts.js';
import { recentObjects } from './common-facts.js';
import type { Kinesis, S3 } from './gather-common.js';

export const CANARY_CURRENCY = 'XPF';
export const CANARY_MERCHANT = 'paypipe-doctor-canary';

export const HOPS = {
  input: 'input stream',
  raw: 'raw bucket',
  output: 'output stream',
  analytics: 'analytics bucket',
} as const;

export interface ProbeOptions {
  kinesis: Kinesis;
  s3: S3;
  names: Pick<ResourceNames, 'inputStream' | 'outputStream' | 'rawBucket' | 'analyticsBucket'>;
  config: PipelineConfig;
  timeoutMs: number;
  pollMs: number;
  now?: (() => number) | undefined;
  signal?: AbortSignal | undefined;
  /** Called when a hop is reached, and on every poll with what is still awaited. */
  progress?: ((message: string) => void) | undefined;
  debug?: ((message: string) => void) | undefined;
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

/** Iterators at LATEST on every open shard: what arrives after this call, and nothing before. */
async function latestIterators(kinesis: Kinesis, stream: string): Promise<Map<string, string>> {
  const its = new Map<string, string>();
  for (const s of await listShards(kinesis, stream)) {
    if (s.closed) continue;
    const it = await getShardIterator(kinesis, stream, s.shardId, { type: 'LATEST' });
    if (it !== undefined) its.set(s.shardId, it);
  }
  return its;
}

export async function runProbe(o: ProbeOptions): Promise<ProbeFact> {
  const now = o.now ?? Date.now;
  const marker = `CANARY-${randomUUID()}`;
  const iterators = await latestIterators(o.kinesis, o.names.outputStream);

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

  const sent = await sendRecords(o.kinesis, o.names.inputStream, [
    { data: Buffer.from(JSON.stringify(canary)), partitionKey: marker },
  ]);
  if (sent.failed > 0) {
    throw new Error(`the canary was not accepted: ${sent.failedRecords[0]?.errorCode ?? 'unknown error'}`);
  }
  reach(HOPS.input);

  // Objects are read once each; S3 clocks may be a little off ours, so look slightly back.
  const seen = new Set<string>();
  const since = sentAt - 5000;
  const readNewObjects = async (
    bucket: string,
    base: string,
    match: (records: unknown[]) => boolean,
  ): Promise<boolean> => {
    const time = (x: { lastModified?: Date | undefined }): number => x.lastModified?.getTime() ?? 0;
    const objects = (await recentObjects(o.s3, bucket, base, now())).filter(
      (x) => time(x) >= since && !seen.has(`${bucket}/${x.key}`),
    );
    for (const x of objects.sort((a, b) => time(a) - time(b))) {
      const decoded = decodeObject(await getObjectBytes(o.s3, bucket, x.key), x.key);
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
          const r = await getRecords(o.kinesis, shardId, it, 1000);
          if (r.nextIterator !== undefined) iterators.set(shardId, r.nextIterator);
          else iterators.delete(shardId);
          for (const rec of r.records) {
            const d = decodeObject(rec.data, `${shardId}/${rec.sequenceNumber}`);
            if (d.records.some((x) => cellsIn(x).some((c) => isCanaryAggregate(c, windowStart))))
              reach(HOPS.output);
          }
        }
      }
      if (!reached(HOPS.analytics)) {
        const found = await readNewObjects(o.names.analyticsBucket, PREFIXES.aggregations, (records) =>
          records.some((x) => cellsIn(x).some((c) => isCanaryAggregate(c, windowStart))),
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
  return { marker, currency: CANARY_CURRENCY, windowStart, hops, timeoutMs: o.timeoutMs };
}
