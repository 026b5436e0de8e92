/**
 * End-to-end latency of the local pipeline, for bench/local-latency.ts: time from the start of
 * sending a burst of events to the moment their aggregates, read back from S3 and merged, equal
 * the exact expected figures. The pipeline is started (and stopped) outside the timed span.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendRecords } from '../aws/kinesis-sender.js';
import { BatchAggregator } from '../domain/aggregate.js';
import { mergeRecords } from '../domain/exact-merge.js';
import { decodeObject } from '../pipeline/codec.js';
import { PREFIXES } from '../pipeline/config.js';
import { type PaymentEvent, serializeEvent } from '../domain/event.js';
import { generateEvents } from '../domain/generator.js';
import { startLocalPipeline } from './pipeline.js';
import { getObjectBytes, listKeys } from '../aws/s3-objects.js';

export interface LatencyOptions {
  count: number;
  seed: number;
  bufferIntervalSeconds: number;
  /** The cloud assembly whose bundles run (see startLocalPipeline). */
  assembly: string;
  /** Event times are spread over this long before now. */
  spanMs?: number;
  timeoutMs?: number;
}

export interface LatencyResult {
  /** From the first PutRecords to merged aggregates in S3 matching exactly. */
  endToEndMs: number;
  /** Of which: sending the burst. */
  sendMs: number;
  events: number;
  cells: number;
  matched: boolean;
}

const cellKey = (window: string, currency: string): string => `${window}|${currency}`;

export async function measureEndToEnd(o: LatencyOptions): Promise<LatencyResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-latency-'));
  const p = await startLocalPipeline({
    dataDir,
    assembly: o.assembly,
    bufferIntervalSeconds: o.bufferIntervalSeconds,
    schedule: false,
    idlePollMs: 100,
    maxIdlePollMs: 200,
  });
  try {
    const nowMs = Date.now();
    const events: PaymentEvent[] = [];
    for (const r of generateEvents({ seed: o.seed, nowMs, spanMs: o.spanMs ?? 5 * 60_000 })) {
      if (r.kind === 'event') events.push(r.event);
      if (events.length >= o.count) break;
    }
    const acc = new BatchAggregator(p.config.aggregator.windowSeconds * 1000);
    for (const e of events) acc.add(e);
    const expected = new Map<string, string>();
    for (const a of acc.toAggregates({ shardId: '-', firstSequenceNumber: '0', lastSequenceNumber: '0' })) {
      expected.set(cellKey(a.window_start, a.currency), JSON.stringify({ ...a, id: '' }));
    }
    const records = events.map((e) => ({
      data: Buffer.from(serializeEvent(e)),
      partitionKey: e.transaction_id,
    }));

    const t0 = performance.now();
    const sent = await sendRecords(p.kinesis, p.config.streams.input.name, records);
    const sendMs = performance.now() - t0;
    if (sent.failed > 0) throw new Error(`${sent.failed} events unsent`);
    const deadline = t0 + (o.timeoutMs ?? 60_000);
    // Objects are written once (a crash-rewrite has the same bytes): fetch each key only once.
    const byKey = new Map<string, unknown[]>();
    for (;;) {
      for (const key of await listKeys(p.s3, p.config.buckets.analytics, PREFIXES.aggregations)) {
        if (byKey.has(key)) continue;
        const { records: got } = decodeObject(
          await getObjectBytes(p.s3, p.config.buckets.analytics, key),
          key,
        );
        byKey.set(key, got);
      }
      const merged = mergeRecords([...byKey.values()].flat());
      const matched =
        merged.aggregates.length === expected.size &&
        merged.aggregates.every(
          (a) => expected.get(cellKey(a.window_start, a.currency)) === JSON.stringify({ ...a, id: '' }),
        );
      const t = performance.now();
      if (matched || t > deadline) {
        return { endToEndMs: t - t0, sendMs, events: events.length, cells: expected.size, matched };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await p.stop({ flush: false });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
