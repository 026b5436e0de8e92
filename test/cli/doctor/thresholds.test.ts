import { describe, expect, it } from 'vitest';
import {
  formatAge,
  freshnessLimitMs,
  lagThresholds,
  scheduleIntervalMs,
} from '../../../src/cli/doctor/thresholds.js';
import { resolveConfig } from '../../../src/pipeline/config.js';

const config = resolveConfig({});

describe('thresholds', () => {
  it('derives lag thresholds from the window', () => {
    expect(lagThresholds(config)).toEqual({ warnMs: 60_000, failMs: 300_000 });
    expect(lagThresholds(resolveConfig({ windowSeconds: 120 }))).toEqual({
      warnMs: 120_000,
      failMs: 600_000,
    });
    expect(lagThresholds(config, 30_000)).toEqual({ warnMs: 30_000, failMs: 30_000 });
  });

  it('reads schedule intervals', () => {
    expect(scheduleIntervalMs('rate(1 minute)')).toBe(60_000);
    expect(scheduleIntervalMs('rate(5 minutes)')).toBe(300_000);
    expect(scheduleIntervalMs('rate(30 seconds)')).toBe(30_000);
    expect(scheduleIntervalMs('rate(2 hours)')).toBe(7_200_000);
    expect(scheduleIntervalMs('cron(0/15 * * * ? *)')).toBe(900_000);
    expect(scheduleIntervalMs('cron(* * * * ? *)')).toBe(60_000);
    expect(scheduleIntervalMs('cron(0 8 * * ? *)')).toBe(86_400_000);
    expect(scheduleIntervalMs('cron(0 */2 * * ? *)')).toBe(7_200_000);
    expect(scheduleIntervalMs('every minute')).toBeUndefined();
  });

  it('derives the freshness limit from schedule, buffer and batching window', () => {
    // 60 s schedule + 60 s Firehose buffer + the configured batching window + 60 s slack.
    const windowMs = config.aggregator.maxBatchingWindowSeconds * 1000;
    expect(freshnessLimitMs(config)).toBe(180_000 + windowMs);
    expect(freshnessLimitMs(config, 'rate(10 minutes)')).toBe(600_000 + 120_000 + windowMs);
  });

  it('formats ages', () => {
    expect(formatAge(950)).toBe('950 ms');
    expect(formatAge(42_000)).toBe('42 s');
    expect(formatAge(185_000)).toBe('3 min 5 s');
    expect(formatAge(7_800_000)).toBe('2 h 10 min');
  });
});
