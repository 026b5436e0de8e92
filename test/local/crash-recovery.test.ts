import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { AggregatorHandler } from '../../src/lambdas/aggregator-handler.js';
import { readJsonSync } from '../../src/local/files.js';
import {
  expectedCells,
  makeEvents,
  readMergedAggregates,
  readRawEvents,
  sendEvents,
  startTestPipeline,
  tempDataDir,
  toCells,
} from '../helpers/local-pipeline.js';

const dataDir = tempDataDir('crash');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('crash and restart on the same data dir', () => {
  it('loses nothing and counts nothing twice after an abrupt stop mid-flight', async () => {
    let calls = 0;
    let crashed!: () => void;
    const crashedNow = new Promise<void>((r) => {
      crashed = r;
    });
    // On the third invocation the aggregates reach the output stream, then the process "dies"
    // before the event source mapping can checkpoint the batch.
    const first = await startTestPipeline({
      dataDir,
      bufferIntervalSeconds: 2,
      configOverrides: { shardCount: 2, batchSize: 100 },
      wrapAggregator:
        (h: AggregatorHandler): AggregatorHandler =>
        async (event, context) => {
          const out = await h(event, context);
          if (++calls === 3) {
            void first.stop({ flush: false });
            crashed();
          }
          return out;
        },
    });
    const now = Date.now();
    const events = makeEvents(2000, { startMs: now - 3 * 60_000, spanMs: 3 * 60_000, seed: 21 });
    await sendEvents(first, events);
    await crashedNow;
    await first.stop({ flush: false });
    const state = readJsonSync<{ inFlight?: unknown }>(
      `${dataDir}/checkpoints/esm-${first.config.aggregator.functionName}/shardId-000000000000.json`,
    );
    const state1 = readJsonSync<{ inFlight?: unknown }>(
      `${dataDir}/checkpoints/esm-${first.config.aggregator.functionName}/shardId-000000000001.json`,
    );
    // The crash left an in-flight batch behind (that is what makes this test meaningful).
    expect(state?.inFlight !== undefined || state1?.inFlight !== undefined).toBe(true);

    const second = await startTestPipeline({
      dataDir,
      bufferIntervalSeconds: 1,
      configOverrides: { shardCount: 2, batchSize: 100 },
    });
    try {
      await second.waitForIdle({ timeoutMs: 40_000 });
      expect(second.status().aggregator.recoveredInFlight).toBeGreaterThanOrEqual(1);
      const merged = await readMergedAggregates(second);
      expect(merged.issues).toEqual([]);
      expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
      // The re-invoked batch wrote the same batch output again; the merge counted it once.
      expect(merged.stats.duplicates).toBeGreaterThan(0);
      const raw = (await readRawEvents(second)) as Array<{ transaction_id: string }>;
      expect(raw).toHaveLength(events.length);
      expect(new Set(raw.map((r) => r.transaction_id)).size).toBe(events.length);
    } finally {
      await second.stop({ flush: true });
    }
  });
});
