/**
 * The numbers doctor judges against, all derived from the pipeline configuration (and overridable
 * with `--max-lag` / `--stale-after`), and how it writes ages. Pure.
 */
import type { PipelineConfig } from '../../pipeline/config.js';

export interface LagThresholds {
  /** Above this, aggregates are later than one window: warn. */
  warnMs: number;
  /** Above this, the consumer is falling behind: fail. */
  failMs: number;
}

/** Default thresholds: one window of lag is normal, five minutes (or 5 windows) is falling behind. */
export function lagThresholds(config: PipelineConfig, failMs?: number): LagThresholds {
  const windowMs = config.aggregator.windowSeconds * 1000;
  const f = failMs ?? Math.max(300_000, 5 * windowMs);
  return { warnMs: Math.min(windowMs, f), failMs: f };
}

// Seconds too: the local scheduler runs rate(30 seconds); EventBridge's minimum is 1 minute.
const RATE = /^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$/;
const UNIT_MS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * How often a schedule expression fires: exact for rate(...), the finest step of the minute and
 * hour fields for cron(...) (good enough to judge freshness). Undefined when unparseable.
 */
export function scheduleIntervalMs(expression: string): number | undefined {
  const e = expression.trim();
  const r = RATE.exec(e);
  if (r) return Number(r[1]) * (UNIT_MS[(r[2] as string).replace(/s$/, '')] as number);
  const c = /^cron\((.+)\)$/.exec(e);
  if (!c) return undefined;
  const [min, hour] = (c[1] as string).trim().split(/\s+/);
  if (min === undefined || hour === undefined) return undefined;
  const step = (field: string, unit: number, span: number): number | undefined => {
    if (field === '*') return unit;
    const s = /^(?:\*|\d+)\/(\d+)$/.exec(field);
    if (s) return Number(s[1]) * unit;
    const list = field.split(',');
    if (list.length > 1) return Math.floor(span / list.length);
    return undefined;
  };
  return step(min, 60_000, 3_600_000) ?? step(hour, 3_600_000, 86_400_000) ?? 86_400_000;
}

/**
 * The age past which the newest object under a prefix is stale: one schedule interval (new events)
 * plus the Firehose buffer plus the aggregator's batching window, plus a minute of slack.
 */
export function freshnessLimitMs(config: PipelineConfig, scheduleExpression?: string): number {
  const every = scheduleIntervalMs(scheduleExpression ?? config.producer.schedule) ?? 3_600_000;
  return (
    every +
    config.firehose.raw.bufferIntervalSeconds * 1000 +
    config.aggregator.maxBatchingWindowSeconds * 1000 +
    60_000
  );
}

/** 950 ms, 42 s, 3 min 5 s, 2 h 10 min. */
export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 === 0 ? '' : ` ${m % 60} min`}`;
}

/** `1 open shard`, `1,204 records`. */
export const plural = (n: number, one: string, many = `${one}s`): string =>
  `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
