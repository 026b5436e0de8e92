/**
 * The pipeline's figures over a recent window, the same shape from CloudWatch (GetMetricData and
 * DescribeAlarms, through src/aws) and from the local pipeline (the EMF lines its functions write
 * to their log files, with the stack's alarm definitions evaluated over them): what doctor judges
 * and what a live view draws.
 */
import { join } from 'node:path';
import { alarmStates, type CloudWatchClient, type MetricQuery, metricSeries } from '../aws/cloudwatch.js';
import { REJECT_REASONS } from '../domain/event.js';
import { alarmDefinitions, type AlarmState, evaluateLocal, ownMetric } from '../pipeline/alarms.js';
import type { PipelineConfig } from '../pipeline/config.js';
import { bucketize, type MetricDatum, parseEmf, REJECTED_METRIC } from '../pipeline/metrics.js';

export interface PeriodFigures {
  /** Start of the period, ms since the epoch. */
  t: number;
  /** Records written to the input stream (AWS: IncomingRecords; local: read by the aggregator). */
  recordsIn: number;
  bytesIn: number;
  aggregatesOut: number;
  rejected: number;
  /** The aggregator's lag: IteratorAge (AWS) / its oldest record's age (local); undefined: no data. */
  lagMs?: number | undefined;
}

export interface AlarmView {
  name: string;
  state: AlarmState;
  /** Locally: the value of the newest period evaluated. */
  value?: number | undefined;
  reason?: string | undefined;
}

export interface PipelineMetrics {
  /** `CloudWatch` or `local function metrics (<dir>/logs)`. */
  source: string;
  startMs: number;
  endMs: number;
  /**
   * Width of each point: a minute on AWS (Kinesis and Lambda publish per minute); 10 s locally,
   * where every invocation's line has its own time, so a burst shorter than a minute still shows.
   */
  periodMs: number;
  /** One per period with data, oldest first. */
  points: PeriodFigures[];
  rejectsByReason: Record<string, number>;
  alarms: AlarmView[];
  /** Alarms the configuration defines that CloudWatch does not have (a stack from an older paypipe). */
  alarmsMissing: string[];
}

const MINUTE = 60_000;
/** Local points: see PipelineMetrics.periodMs. */
export const LOCAL_PERIOD_MS = 10_000;

function mergePeriods(
  series: Record<keyof Omit<PeriodFigures, 't'>, { t: number; v: number }[]>,
  periodMs: number,
): PeriodFigures[] {
  const byT = new Map<number, PeriodFigures>();
  const at = (t: number): PeriodFigures => {
    let m = byT.get(t);
    if (m === undefined) {
      m = { t, recordsIn: 0, bytesIn: 0, aggregatesOut: 0, rejected: 0 };
      byT.set(t, m);
    }
    return m;
  };
  for (const [k, points] of Object.entries(series) as [
    keyof Omit<PeriodFigures, 't'>,
    { t: number; v: number }[],
  ][]) {
    for (const p of points) at(p.t - (p.t % periodMs))[k] = p.v;
  }
  return [...byT.values()].sort((a, b) => a.t - b.t);
}

/** The local pipeline's figures, from the EMF lines in `<dataDir>/logs/*.ndjson`. */
export async function localPipelineMetrics(
  dataDir: string,
  config: PipelineConfig,
  range: { startMs: number; endMs: number },
): Promise<PipelineMetrics> {
  const { localLogTails } = await import('../local/log-files.js');
  const data: MetricDatum[] = [];
  for (const tail of localLogTails(join(dataDir, 'logs'), ['producer', 'aggregator'])) {
    for (const e of await tail.readNew()) {
      for (const d of parseEmf(e.message)) if (d.environment === config.stackName) data.push(d);
    }
  }
  // The local scheduler may be off (`up --no-schedule`, `schedule --disable`): then the producer
  // not running is what was asked for, not an alarm.
  const { readLocalSchedule } = await import('../local/schedule.js');
  const scheduled = (await readLocalSchedule(dataDir)).enabled;
  return metricsFromData(
    data,
    config,
    range,
    `local function metrics (${join(dataDir, 'logs')})`,
    LOCAL_PERIOD_MS,
    {
      skip: scheduled ? [] : ['producer-schedule'],
    },
  );
}

/** Pure: the figures and alarm states of the local definitions over metric data. */
export function metricsFromData(
  data: readonly MetricDatum[],
  config: PipelineConfig,
  range: { startMs: number; endMs: number },
  source: string,
  periodMs: number,
  o: { skip?: readonly string[] } = {},
): PipelineMetrics {
  const own = (name: string, stat: 'Sum' | 'Maximum') => {
    const m = ownMetric(config, 'aggregator', name, stat);
    return bucketize(
      data,
      (d) => d.name === m.metricName && d.service === 'aggregator' && d.reason === undefined,
      stat,
      periodMs,
      range,
    );
  };
  const rejectsByReason: Record<string, number> = {};
  for (const d of data) {
    if (d.name !== REJECTED_METRIC || d.reason === undefined) continue;
    if (d.t < range.startMs || d.t >= range.endMs) continue;
    rejectsByReason[d.reason] = (rejectsByReason[d.reason] ?? 0) + d.value;
  }
  const alarms: AlarmView[] = [];
  for (const def of alarmDefinitions(config)) {
    if (def.local === undefined || o.skip?.includes(def.id)) continue;
    const r = evaluateLocal(def, data, range.endMs - 1);
    alarms.push({ name: def.name, state: r.state, value: r.value });
  }
  return {
    source,
    ...range,
    periodMs,
    points: mergePeriods(
      {
        recordsIn: own('RecordsIn', 'Sum'),
        bytesIn: own('BytesIn', 'Sum'),
        aggregatesOut: own('AggregatesOut', 'Sum'),
        rejected: own('RecordsRejected', 'Sum'),
        lagMs: own('OldestRecordAge', 'Maximum'),
      },
      periodMs,
    ),
    rejectsByReason,
    alarms,
    alarmsMissing: [],
  };
}

/** The deployed pipeline's figures: one GetMetricData (all pages) and one DescribeAlarms. */
export async function awsPipelineMetrics(
  cw: CloudWatchClient,
  config: PipelineConfig,
  names: { inputStream: string; aggregatorFunction: string },
  range: { startMs: number; endMs: number },
): Promise<PipelineMetrics> {
  const own = (id: string, name: string): MetricQuery => {
    const m = ownMetric(config, 'aggregator', name, 'Sum');
    return { id, namespace: m.namespace, metric: m.metricName, dimensions: m.dimensions, stat: 'Sum' };
  };
  const stream = { StreamName: names.inputStream };
  const queries: MetricQuery[] = [
    { id: 'recordsIn', namespace: 'AWS/Kinesis', metric: 'IncomingRecords', dimensions: stream, stat: 'Sum' },
    { id: 'bytesIn', namespace: 'AWS/Kinesis', metric: 'IncomingBytes', dimensions: stream, stat: 'Sum' },
    own('aggregatesOut', 'AggregatesOut'),
    own('rejected', 'RecordsRejected'),
    {
      id: 'lagMs',
      namespace: 'AWS/Lambda',
      metric: 'IteratorAge',
      dimensions: { FunctionName: names.aggregatorFunction },
      stat: 'Maximum',
    },
    ...REJECT_REASONS.map((reason, i) => ({
      ...own(`reason${i}`, REJECTED_METRIC),
      dimensions: { service: 'aggregator', environment: config.stackName, reason },
      periodSeconds: Math.max(60, Math.ceil((range.endMs - range.startMs) / 60_000) * 60),
    })),
  ];
  const [series, states] = await Promise.all([
    metricSeries(cw, queries, range),
    alarmStates(cw, `${config.stackName}-`),
  ]);
  const rejectsByReason: Record<string, number> = {};
  REJECT_REASONS.forEach((reason, i) => {
    const total = (series.get(`reason${i}`) ?? []).reduce((a, p) => a + p.v, 0);
    if (total > 0) rejectsByReason[reason] = total;
  });
  const defined = alarmDefinitions(config).map((d) => d.name);
  const byName = new Map(states.map((s) => [s.name, s]));
  return {
    source: 'CloudWatch',
    ...range,
    periodMs: MINUTE,
    points: mergePeriods(
      {
        recordsIn: series.get('recordsIn') ?? [],
        bytesIn: series.get('bytesIn') ?? [],
        aggregatesOut: series.get('aggregatesOut') ?? [],
        rejected: series.get('rejected') ?? [],
        lagMs: series.get('lagMs') ?? [],
      },
      MINUTE,
    ),
    rejectsByReason,
    alarms: states.map((s) => ({ name: s.name, state: s.state, reason: s.reason })),
    alarmsMissing: defined.filter((n) => !byName.has(n)),
  };
}
