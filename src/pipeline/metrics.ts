/**
 * The pipeline's own metrics: their names, the CloudWatch embedded metric format (EMF) lines the
 * functions write, and the parser the local pipeline reads them back with. One module for both
 * directions, so what the stack alarms on, what the Lambda writes and what `doctor --local` and
 * `status --local` read cannot drift apart.
 *
 * EMF (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * one JSON line on stdout; CloudWatch Logs extracts the metrics asynchronously, so writing them is
 * no API call in the function's hot path. Dimensions stay small: service and environment (the
 * stack name, so two projects in one account never mix), plus `reason` on the rejects.
 *
 * Pure: no clock, no I/O.
 */

export const METRICS_NAMESPACE = 'Paypipe';

/** Metric name → unit, as written by the aggregator (one line per invocation). */
export const AGGREGATOR_METRICS = {
  RecordsIn: 'Count',
  /** Bytes of the records read (their data, as written to the input stream). */
  BytesIn: 'Bytes',
  RecordsValid: 'Count',
  RecordsRejected: 'Count',
  AggregatesOut: 'Count',
  Windows: 'Count',
  /** Valid events that arrived more than one window after their window had closed. */
  LateEvents: 'Count',
  /** Output PutRecords entries resent (one entry retried twice counts 2). */
  OutputRetries: 'Count',
  /** 1 when the invocation asked for its batch to be retried. */
  BatchFailures: 'Count',
  BatchDuration: 'Milliseconds',
  /** now − arrival of the batch's oldest record: the lag as the function sees it. */
  OldestRecordAge: 'Milliseconds',
} as const;

export const PRODUCER_METRICS = {
  ProducerRuns: 'Count',
  EventsProduced: 'Count',
  EventsUnsent: 'Count',
} as const;

/** Rejects by reason: one extra line per reason present, with the `reason` dimension. */
export const REJECTED_METRIC = 'Rejected';

export type AggregatorMetricName = keyof typeof AGGREGATOR_METRICS;
export type ProducerMetricName = keyof typeof PRODUCER_METRICS;
export type MetricUnit = 'Count' | 'Milliseconds' | 'Bytes';

export type MetricService = 'aggregator' | 'producer';

export interface MetricDimensions {
  service: MetricService;
  /** `<project>-<environment>` (the stack name). */
  environment: string;
  reason?: string;
}

/** One EMF line (no trailing newline). Values must be finite; others are left out. */
export function emfLine(
  timestampMs: number,
  dims: MetricDimensions,
  values: Readonly<Record<string, number>>,
  units: Readonly<Record<string, MetricUnit>>,
): string {
  const keys = dims.reason === undefined ? ['service', 'environment'] : ['service', 'environment', 'reason'];
  const metrics: { Name: string; Unit: MetricUnit }[] = [];
  const doc: Record<string, unknown> = { _aws: undefined, ...dims };
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isFinite(v)) continue;
    metrics.push({ Name: name, Unit: units[name] ?? 'Count' });
    doc[name] = v;
  }
  doc._aws = {
    Timestamp: timestampMs,
    CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [keys], Metrics: metrics }],
  };
  return JSON.stringify(doc);
}

/** One value read back from an EMF line. */
export interface MetricDatum {
  t: number;
  name: string;
  value: number;
  service: string;
  environment: string;
  reason?: string | undefined;
}

/**
 * The datapoints of one log line, or [] when it is not an EMF document of this namespace (an
 * ordinary log line, a torn line, hostile text). Never throws.
 */
export function parseEmf(line: string): MetricDatum[] {
  if (!line.includes('"_aws"')) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return [];
  const o = doc as Record<string, unknown>;
  const aws = o._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws !== 'object' || aws === null) return [];
  const t = aws.Timestamp;
  if (typeof t !== 'number' || !Number.isFinite(t)) return [];
  if (typeof o.service !== 'string' || typeof o.environment !== 'string') return [];
  const out: MetricDatum[] = [];
  const directives = Array.isArray(aws.CloudWatchMetrics) ? aws.CloudWatchMetrics : [];
  for (const d of directives as unknown[]) {
    const dd = d as { Namespace?: unknown; Metrics?: unknown };
    if (dd?.Namespace !== METRICS_NAMESPACE || !Array.isArray(dd.Metrics)) continue;
    for (const m of dd.Metrics as unknown[]) {
      const name = (m as { Name?: unknown })?.Name;
      if (typeof name !== 'string') continue;
      const value = o[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      out.push({
        t,
        name,
        value,
        service: o.service,
        environment: o.environment,
        reason: typeof o.reason === 'string' ? o.reason : undefined,
      });
    }
  }
  return out;
}

export type Statistic = 'Sum' | 'Maximum' | 'Average' | 'SampleCount' | 'Minimum';

/** One value per period (start ms → value) of the data matching `pick`, over [startMs, endMs). */
export function bucketize(
  data: readonly MetricDatum[],
  pick: (d: MetricDatum) => boolean,
  stat: Statistic,
  periodMs: number,
  range: { startMs: number; endMs: number },
): { t: number; v: number }[] {
  const groups = new Map<number, number[]>();
  for (const d of data) {
    if (d.t < range.startMs || d.t >= range.endMs || !pick(d)) continue;
    const t = d.t - (d.t % periodMs);
    const g = groups.get(t);
    if (g === undefined) groups.set(t, [d.value]);
    else g.push(d.value);
  }
  return [...groups].sort((a, b) => a[0] - b[0]).map(([t, vs]) => ({ t, v: statistic(vs, stat) }));
}

export function statistic(vs: readonly number[], stat: Statistic): number {
  switch (stat) {
    case 'Sum':
      return vs.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return Math.max(...vs);
    case 'Minimum':
      return Math.min(...vs);
    case 'SampleCount':
      return vs.length;
    case 'Average':
      return vs.reduce((a, b) => a + b, 0) / vs.length;
  }
}

/** Kinesis write limits per shard (provisioned): records and bytes per second. */
export const SHARD_WRITE_LIMITS = { recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024 } as const;
