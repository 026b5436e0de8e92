/**
 * The pipeline's alarms, defined once from the resolved configuration: the stack turns each into a
 * CloudWatch alarm (src/infra/monitoring.ts), and doctor/status evaluate the ones with a local
 * equivalent against the metrics the local functions write (EMF lines in their logs), with the
 * same threshold, period and evaluation count. Names and descriptions say what to run.
 *
 * Every physical name is deterministic in the configuration (functions, streams, delivery streams,
 * queue), so the dimensions are known here without the stack.
 *
 * Pure: no clock, no I/O.
 */
import type { PipelineConfig } from './config.js';
import { bucketize, METRICS_NAMESPACE, type MetricDatum, type Statistic } from './metrics.js';

export interface MetricRef {
  namespace: string;
  metricName: string;
  dimensions: Readonly<Record<string, string>>;
  statistic: Statistic;
}

/** A metric, or metric math over named metrics (CloudWatch's expression syntax, + - * / only). */
export type AlarmInput =
  | { kind: 'metric'; metric: MetricRef }
  | { kind: 'math'; expression: string; label: string; using: Readonly<Record<string, MetricRef>> };

export type Comparison =
  | 'GreaterThanThreshold'
  | 'GreaterThanOrEqualToThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';

export type MissingData = 'notBreaching' | 'breaching' | 'missing';

export interface AlarmDef {
  /** Stable id (`lag`, `rejects`, …), the construct id suffix and the doctor's evidence key. */
  id: string;
  /** `<stack>-<id>`. */
  name: string;
  description: string;
  /** The paypipe command (arguments) to run next, besides doctor. */
  next: string;
  input: AlarmInput;
  /** The same condition over the local pipeline's metrics, where one exists. */
  local?: AlarmInput | undefined;
  threshold: number;
  comparison: Comparison;
  periodSeconds: number;
  evaluationPeriods: number;
  missing: MissingData;
}

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

const lambdaMetric = (fn: string, metricName: string, statistic: Statistic): MetricRef => ({
  namespace: 'AWS/Lambda',
  metricName,
  dimensions: { FunctionName: fn },
  statistic,
});

/** The environment's own metrics (src/pipeline/metrics.ts): dimensions service and environment. */
export const ownMetric = (
  config: PipelineConfig,
  service: 'aggregator' | 'producer',
  metricName: string,
  statistic: Statistic,
): MetricRef => ({
  namespace: METRICS_NAMESPACE,
  metricName,
  dimensions: { service, environment: config.stackName },
  statistic,
});

const single = (metric: MetricRef): AlarmInput => ({ kind: 'metric', metric });

/** ms between runs of a rate() expression; cron() and anything else: one hour. */
export function scheduleEveryMs(expression: string): number {
  const m = /^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$/.exec(expression.trim());
  if (m === null) return 3_600_000;
  const unit = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 }[m[2] as 'second'];
  return Number(m[1]) * unit;
}

export function alarmDefinitions(config: PipelineConfig): AlarmDef[] {
  const a = config.alarms;
  const stack = config.stackName;
  const run = `Run: paypipe doctor --env ${config.environment}`;
  const periods = a.evaluationPeriods;
  const base = { periodSeconds: 60, evaluationPeriods: periods };
  const agg = config.aggregator.functionName;
  const prod = config.producer.functionName;
  const defs: AlarmDef[] = [
    {
      id: 'lag',
      name: `${stack}-aggregator-lag`,
      description: `The aggregator is more than ${a.lagSeconds} s behind the input stream (IteratorAge) for ${periods} min. ${run}; if the input is near its shard limits, paypipe scale --env ${config.environment}.`,
      next: 'scale',
      input: single(lambdaMetric(agg, 'IteratorAge', 'Maximum')),
      local: single(ownMetric(config, 'aggregator', 'OldestRecordAge', 'Maximum')),
      threshold: a.lagSeconds * 1000,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
      ...base,
    },
    ...[
      ['aggregator', agg],
      ['producer', prod],
    ].map(
      ([who, fn]): AlarmDef => ({
        id: `${who}-errors`,
        name: `${stack}-${who}-errors`,
        description: `The ${who} function failed or was throttled. ${run}; paypipe logs ${who} --env ${config.environment} --level error.`,
        next: `logs ${who} --level error`,
        input: {
          kind: 'math',
          expression: 'errors + throttles',
          label: 'errors and throttles',
          using: {
            errors: lambdaMetric(fn as string, 'Errors', 'Sum'),
            throttles: lambdaMetric(fn as string, 'Throttles', 'Sum'),
          },
        },
        threshold: 1,
        comparison: 'GreaterThanOrEqualToThreshold',
        missing: 'notBreaching',
        periodSeconds: 60,
        evaluationPeriods: 1,
      }),
    ),
    {
      id: 'failed-batches',
      name: `${stack}-failed-batches`,
      description: `Batches the aggregator gave up on are waiting in ${config.failureQueueName}. ${run}; then paypipe redrive --env ${config.environment}.`,
      next: 'redrive --dry-run',
      input: single({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: config.failureQueueName },
        statistic: 'Maximum',
      }),
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      missing: 'notBreaching',
      periodSeconds: 300,
      evaluationPeriods: 1,
    },
    {
      id: 'rejects',
      name: `${stack}-rejects`,
      description: `More than ${a.rejectPercent}% of the records read were rejected (dead-lettered) for ${periods} min. ${run}; paypipe dead-letters --env ${config.environment}.`,
      next: 'dead-letters',
      input: rejectShare(config),
      local: rejectShare(config),
      threshold: a.rejectPercent,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
      ...base,
    },
    ...(['raw', 'analytics'] as const).flatMap((which): AlarmDef[] => {
      const d = config.firehose[which];
      const dims = { DeliveryStreamName: d.name };
      return [
        {
          id: `freshness-${which}`,
          name: `${stack}-${which}-freshness`,
          description: `Firehose ${d.name} holds records older than ${a.freshnessSeconds} s (DataFreshness). ${run}.`,
          next: 'doctor --probe',
          input: single({
            namespace: 'AWS/Firehose',
            metricName: 'DeliveryToS3.DataFreshness',
            dimensions: dims,
            statistic: 'Maximum',
          }),
          threshold: a.freshnessSeconds,
          comparison: 'GreaterThanThreshold',
          missing: 'notBreaching',
          ...base,
        },
        {
          id: `delivery-${which}`,
          name: `${stack}-${which}-delivery`,
          description: `Firehose ${d.name} failed to deliver to S3 (DeliveryToS3.Success below 100%). ${run}.`,
          next: 'doctor --probe',
          input: single({
            namespace: 'AWS/Firehose',
            metricName: 'DeliveryToS3.Success',
            dimensions: dims,
            statistic: 'Minimum',
          }),
          threshold: 1,
          comparison: 'LessThanThreshold',
          missing: 'notBreaching',
          ...base,
        },
      ];
    }),
    {
      id: 'input-throttled',
      name: `${stack}-input-throttled`,
      description: `Writes to ${config.streams.input.name} were throttled (over the shards' write limits). ${run}; paypipe scale --env ${config.environment} --shards N.`,
      next: 'scale',
      input: single({
        namespace: 'AWS/Kinesis',
        metricName: 'WriteProvisionedThroughputExceeded',
        dimensions: { StreamName: config.streams.input.name },
        statistic: 'Sum',
      }),
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      missing: 'notBreaching',
      ...base,
    },
  ];
  if (config.producer.scheduleEnabled) {
    // One period spans at least two runs (CloudWatch periods are whole minutes, a day at most).
    const every = scheduleEveryMs(config.producer.schedule);
    const periodSeconds = Math.min(86_400, Math.max(120, Math.ceil((2 * every) / 60_000) * 60));
    defs.push({
      id: 'producer-schedule',
      name: `${stack}-producer-not-running`,
      description: `The producer did not run in ${periodSeconds / 60} min (schedule ${config.producer.schedule}). ${run}; paypipe schedule --env ${config.environment}.`,
      next: 'schedule',
      input: single(lambdaMetric(prod, 'Invocations', 'Sum')),
      local: single(ownMetric(config, 'producer', 'ProducerRuns', 'Sum')),
      threshold: 1,
      comparison: 'LessThanThreshold',
      missing: 'breaching',
      periodSeconds,
      evaluationPeriods: 1,
    });
  }
  return defs;
}

function rejectShare(config: PipelineConfig): AlarmInput {
  return {
    kind: 'math',
    expression: '100 * rejected / records',
    label: 'rejected %',
    using: {
      rejected: ownMetric(config, 'aggregator', 'RecordsRejected', 'Sum'),
      records: ownMetric(config, 'aggregator', 'RecordsIn', 'Sum'),
    },
  };
}

/** Whether a value breaches. */
export function breaches(def: Pick<AlarmDef, 'comparison' | 'threshold'>, v: number): boolean {
  switch (def.comparison) {
    case 'GreaterThanThreshold':
      return v > def.threshold;
    case 'GreaterThanOrEqualToThreshold':
      return v >= def.threshold;
    case 'LessThanThreshold':
      return v < def.threshold;
    case 'LessThanOrEqualToThreshold':
      return v <= def.threshold;
  }
}

const pickFor =
  (m: MetricRef) =>
  (d: MetricDatum): boolean =>
    d.name === m.metricName &&
    d.service === m.dimensions.service &&
    d.environment === m.dimensions.environment &&
    (m.dimensions.reason === undefined || d.reason === m.dimensions.reason);

/** One value per period of an input over local metric data (math: periods where every term has data). */
export function seriesOf(
  input: AlarmInput,
  data: readonly MetricDatum[],
  periodMs: number,
  range: { startMs: number; endMs: number },
): { t: number; v: number }[] {
  if (input.kind === 'metric') {
    return bucketize(data, pickFor(input.metric), input.metric.statistic, periodMs, range);
  }
  const terms = Object.entries(input.using).map(
    ([k, m]) =>
      [k, new Map(bucketize(data, pickFor(m), m.statistic, periodMs, range).map((p) => [p.t, p.v]))] as const,
  );
  const times = new Set<number>();
  for (const [, s] of terms) for (const t of s.keys()) times.add(t);
  const out: { t: number; v: number }[] = [];
  for (const t of [...times].sort((x, y) => x - y)) {
    const vars: Record<string, number> = {};
    for (const [k, s] of terms) vars[k] = s.get(t) ?? 0;
    const v = evalExpression(input.expression, vars);
    if (Number.isFinite(v)) out.push({ t, v });
  }
  return out;
}

/**
 * CloudWatch's state for the newest `evaluationPeriods` periods ending with the one holding
 * `nowMs` (the current, still filling period counts, as CloudWatch evaluates the latest data):
 * ALARM when every one of them breaches (missing ones per `missing`), OK otherwise.
 */
export function evaluateLocal(
  def: AlarmDef,
  data: readonly MetricDatum[],
  nowMs: number,
): { state: AlarmState; value?: number | undefined } {
  if (def.local === undefined) return { state: 'INSUFFICIENT_DATA' };
  const periodMs = def.periodSeconds * 1000;
  const endMs = nowMs - (nowMs % periodMs) + periodMs;
  const startMs = endMs - def.evaluationPeriods * periodMs;
  const series = new Map(seriesOf(def.local, data, periodMs, { startMs, endMs }).map((p) => [p.t, p.v]));
  let breaching = 0;
  let present = 0;
  let latest: number | undefined;
  for (let t = startMs; t < endMs; t += periodMs) {
    const v = series.get(t);
    if (v === undefined) {
      if (def.missing === 'breaching') breaching++;
      continue;
    }
    present++;
    latest = v;
    if (breaches(def, v)) breaching++;
  }
  if (present === 0 && def.missing === 'missing') return { state: 'INSUFFICIENT_DATA' };
  return { state: breaching === def.evaluationPeriods ? 'ALARM' : 'OK', value: latest };
}

/** The tiny expression language of AlarmInput math: numbers, names, + - * /, parentheses. */
export function evalExpression(expression: string, vars: Readonly<Record<string, number>>): number {
  const tokens = expression.match(/\d+(\.\d+)?|[A-Za-z_]\w*|[-+*/()]/g) ?? [];
  let i = 0;
  const atom = (): number => {
    const t = tokens[i++];
    if (t === '(') {
      const v = sum();
      i++;
      return v;
    }
    if (t === '-') return -atom();
    if (t !== undefined && /^\d/.test(t)) return Number(t);
    if (t !== undefined && Object.hasOwn(vars, t)) return vars[t] as number;
    return Number.NaN;
  };
  const product = (): number => {
    let v = atom();
    while (tokens[i] === '*' || tokens[i] === '/') v = tokens[i++] === '*' ? v * atom() : v / atom();
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[i] === '+' || tokens[i] === '-') v = tokens[i++] === '+' ? v + product() : v - product();
    return v;
  };
  return sum();
}
