/**
 * The local pipeline end to end with the failure the old merge could not survive: aggregator
 * invocations that time out AFTER writing (all of their batch output, or only some of its parts),
 * so the event source mapping bisects the batch and the halves write outputs of their own over the
 * same records. Real kinesalite, s3rver, Firehose emulation and handler; the merged totals read back
 * from S3 must equal the events sent, exactly, while the old id-only merge counts records twice.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { sendRecords } from '../../src/aws/kinesis-sender.js';
import { aggregateId, BatchAggregator, CellParser } from '../../src/domain/aggregate.js';
import { parseBatchOutputPart, renderBatchOutput } from '../../src/domain/batch-output.js';
import { validateRecord } from '../../src/domain/event.js';
import type { AggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import {
  expectedCells,
  makeEvents,
  readMergedAggregates,
  sendEvents,
  startTestPipeline,
  type TestPipeline,
  toCells,
} from '../helpers/local-pipeline.js';

let p: TestPipeline | undefined;
afterAll(async () => {
  await p?.cleanup();
});

const TIMEOUT_S = 3;

describe('local pipeline: timeouts after partial writes, bisected retries', () => {
  it('merged totals are exact; the old id-only merge double counts the same objects', {
    timeout: 120_000,
  }, async () => {
    let calls = 0;
    const faults: string[] = [];
    const hang = (): Promise<never> =>
      // Past the function timeout, then nothing: Lambda has long given up on this invocation.
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('hung')), (TIMEOUT_S + 2) * 1000));
    const wrap =
      (h: AggregatorHandler): AggregatorHandler =>
      async (event, context) => {
        calls++;
        if (event.Records.length < 4 || faults.length >= 3) return h(event, context);
        if (calls % 3 === 1) {
          // The whole batch output went out, then the invocation hung past the timeout.
          faults.push(`${event.Records.length} records: complete output, then timeout`);
          await h(event, context);
          return hang();
        }
        if (calls % 3 === 2) {
          // Only the first part of a multi-part output got out before the timeout.
          faults.push(`${event.Records.length} records: part 1 only, then timeout`);
          await writeFirstPart(event);
          return hang();
        }
        return h(event, context);
      };
    p = await startTestPipeline({
      configOverrides: { shardCount: 2, batchSize: 40, aggregatorTimeoutSeconds: TIMEOUT_S },
      wrapAggregator: wrap,
    });
    const pipeline = p;
    /** What an aggregator whose output needed parts would have got out: part 1 of n. */
    async function writeFirstPart(event: KinesisStreamEvent): Promise<void> {
      const recs = event.Records;
      const acc = new BatchAggregator(pipeline.config.aggregator.windowSeconds * 1000);
      for (const r of recs) {
        const v = validateRecord(Buffer.from(r.kinesis.data, 'base64'), {
          arrivalMs: Date.now(),
          maxFutureSkewMs: 86_400_000,
        });
        if (v.ok) acc.add(v.event);
      }
      const shardId = (recs[0]?.eventID ?? '').split(':')[0] as string;
      const parts = renderBatchOutput(
        {
          shardId,
          firstSequenceNumber: recs[0]?.kinesis.sequenceNumber as string,
          lastSequenceNumber: recs.at(-1)?.kinesis.sequenceNumber as string,
        },
        recs.length,
        acc.cells(),
        pipeline.config.aggregator.windowSeconds * 1000,
        700,
      );
      expect(parts.length).toBeGreaterThan(1);
      const s = await sendRecords(pipeline.kinesis, pipeline.config.streams.output.name, [
        { data: Buffer.from(parts[0] as string), partitionKey: shardId },
      ]);
      expect(s.failed).toBe(0);
    }

    const now = Date.now();
    const events = makeEvents(400, { startMs: now - 6 * 60_000, spanMs: 6 * 60_000, seed: 21 });
    await sendEvents(p, events);
    await p.waitForIdle({ timeoutMs: 90_000 });

    const st = p.status();
    expect(faults.length, faults.join('; ')).toBe(3);
    expect(st.aggregator.bisections).toBeGreaterThanOrEqual(3);
    expect(st.failedBatches).toBe(0);

    const merged = await readMergedAggregates(p);
    expect(merged.issues).toEqual([]);
    expect(merged.complete).toBe(true);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
    // The history really holds what defeats simpler rules: outputs over the same records, and
    // an attempt that got only part of its output out.
    expect(merged.stats.batchOutputs.superseded).toBeGreaterThanOrEqual(2);
    expect(merged.stats.batchOutputs.incomplete).toBe(1);

    // The foil: counting each (batch, window, currency) id once, as before, over the same records.
    const parser = new CellParser();
    const seen = new Set<string>();
    let oldCount = 0;
    for (const r of merged.raw) {
      const part = parseBatchOutputPart(r, parser);
      if (!part.ok) throw new Error(part.detail);
      const h = part.part.header;
      const ref = {
        shardId: h.shardId,
        firstSequenceNumber: h.first.toString(),
        lastSequenceNumber: h.last.toString(),
      };
      for (const c of part.part.cells) {
        const id = aggregateId(ref, c.window_start, c.currency);
        if (!seen.has(id)) {
          seen.add(id);
          oldCount += c.totals.count;
        }
      }
    }
    console.info(
      `timeouts: ${faults.join('; ')}; ${st.aggregator.bisections} bisections; old id-only merge counts ${oldCount} of ${events.length}`,
    );
    expect(oldCount).toBeGreaterThan(events.length);
  });
});
