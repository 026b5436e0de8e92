/**
 * CloudWatch metrics as paypipe uses them: several series in one GetMetricData request (all pages,
 * through the SDK's paginator), returned as plain points so callers pick the latest or the sum.
 */
import type { CloudWatchClient, MetricDataQuery } from '@aws-sdk/client-cloudwatch';

export type { CloudWatchClient };

export interface MetricQuery {
  /** Query id: lower-case start, letters, digits and underscores (CloudWatch's rule). */
  id: string;
  namespace: string;
  metric: string;
  dimensions: Readonly<Record<string, string>>;
  stat: 'Maximum' | 'Minimum' | 'Sum' | 'Average' | 'SampleCount';
  /** Seconds per datapoint (default 60). */
  periodSeconds?: number;
}

export interface MetricPoint {
  /** Start of the datapoint's period, ms since the epoch. */
  t: number;
  v: number;
}

/** Datapoints per query id over [startMs, endMs); a query with no data has an empty list. */
export async function metricSeries(
  cw: CloudWatchClient,
  queries: readonly MetricQuery[],
  range: { startMs: number; endMs: number },
): Promise<Map<string, MetricPoint[]>> {
  const { paginateGetMetricData } = await import('@aws-sdk/client-cloudwatch');
  const series = new Map<string, MetricPoint[]>(queries.map((q) => [q.id, []]));
  const MetricDataQueries: MetricDataQuery[] = queries.map((q) => ({
    Id: q.id,
    MetricStat: {
      Metric: {
        Namespace: q.namespace,
        MetricName: q.metric,
        Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: q.periodSeconds ?? 60,
      Stat: q.stat,
    },
    ReturnData: true,
  }));
  for await (const page of paginateGetMetricData(
    { client: cw },
    { MetricDataQueries, StartTime: new Date(range.startMs), EndTime: new Date(range.endMs) },
  )) {
    for (const r of page.MetricDataResults ?? []) {
      const points = series.get(r.Id ?? '');
      if (points === undefined) continue;
      (r.Values ?? []).forEach((v, i) => {
        const t = r.Timestamps?.[i]?.getTime();
        if (t !== undefined) points.push({ t, v });
      });
    }
  }
  return series;
}

/** The value of the newest datapoint (not the largest), or undefined without data. */
export function latestValue(points: readonly MetricPoint[] | undefined): number | undefined {
  let best: MetricPoint | undefined;
  for (const p of points ?? []) if (best === undefined || p.t > best.t) best = p;
  return best?.v;
}

export const sumValues = (points: readonly MetricPoint[] | undefined): number =>
  (points ?? []).reduce((a, p) => a + p.v, 0);

export interface AlarmStateInfo {
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  reason?: string | undefined;
  /** When the state last changed, ms since the epoch. */
  since?: number | undefined;
}

/** The metric and composite alarms whose names start with `prefix` (all pages). */
export async function alarmStates(cw: CloudWatchClient, prefix: string): Promise<AlarmStateInfo[]> {
  const { paginateDescribeAlarms } = await import('@aws-sdk/client-cloudwatch');
  const out: AlarmStateInfo[] = [];
  for await (const page of paginateDescribeAlarms({ client: cw }, { AlarmNamePrefix: prefix })) {
    for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
      if (a.AlarmName === undefined) continue;
      out.push({
        name: a.AlarmName,
        state: (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmStateInfo['state'],
        reason: a.StateReason,
        since: a.StateUpdatedTimestamp?.getTime(),
      });
    }
  }
  return out;
}
