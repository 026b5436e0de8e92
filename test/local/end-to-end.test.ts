import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectedCells,
  makeEvents,
  readMergedAggregates,
  readRawEvents,
  sendEvents,
  startTestPipeline,
  type TestPipeline,
  toCells,
} from '../helpers/local-pipeline.js';

describe('local pipeline end to end', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline();
  });
  afterAll(async () => {
    await p?.cleanup();
  });

  it('delivers every raw event and exact aggregates per window and currency', async () => {
    const now = Date.now();
    const events = makeEvents(1500, { startMs: now - 4 * 60_000, spanMs: 4 * 60_000, seed: 7 });
    await sendEvents(p, events);
    await p.waitForIdle({ timeoutMs: 30_000 });

    const raw = (await readRawEvents(p)) as Array<{ transaction_id: string; amount: number }>;
    expect(raw).toHaveLength(events.length);
    expect(new Set(raw.map((r) => r.transaction_id))).toEqual(new Set(events.map((e) => e.transaction_id)));

    const merged = await readMergedAggregates(p);
    expect(merged.issues).toEqual([]);
    expect(toCells(merged.aggregates)).toEqual(expectedCells(events, 60));
    const s = p.status();
    expect(s.eventsIn).toBe(events.length);
    expect(s.rawEventsDelivered).toBe(events.length);
    expect(s.aggregatesOut).toBe(merged.raw.length);
    expect(s.deadLettered).toBe(0);
  });
});
