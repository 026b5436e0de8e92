/**
 * The functions' metrics, written as CloudWatch embedded metric format lines (src/pipeline/metrics.ts)
 * to stdout — CloudWatch Logs turns them into metrics, so no API call is made in the hot path.
 * Locally the pipeline passes the function's log sink, and doctor/status read the same lines back.
 */
import {
  AGGREGATOR_METRICS,
  type AggregatorMetricName,
  emfLine,
  type MetricService,
  PRODUCER_METRICS,
  type ProducerMetricName,
  REJECTED_METRIC,
} from '../../pipeline/metrics.js';

export interface MetricsOptions {
  /** The environment dimension: the stack name, `<project>-<environment>`. */
  environment: string;
  /** Default: stdout, where Lambda's log agent picks EMF lines up. */
  sink?: (line: string) => void;
  now?: () => number;
}

export interface Metrics {
  aggregatorBatch(
    values: Readonly<Record<AggregatorMetricName, number>>,
    rejectedByReason: Readonly<Partial<Record<string, number>>>,
  ): void;
  producerRun(values: Readonly<Record<ProducerMetricName, number>>): void;
}

const stdoutSink = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export function createMetrics(opts: MetricsOptions): Metrics {
  const sink = opts.sink ?? stdoutSink;
  const now = opts.now ?? Date.now;
  const dims = (service: MetricService, reason?: string) =>
    reason === undefined
      ? { service, environment: opts.environment }
      : { service, environment: opts.environment, reason };
  return {
    aggregatorBatch(values, rejectedByReason) {
      const t = now();
      sink(emfLine(t, dims('aggregator'), values, AGGREGATOR_METRICS));
      for (const [reason, n] of Object.entries(rejectedByReason)) {
        if (n === undefined || n <= 0) continue;
        sink(emfLine(t, dims('aggregator', reason), { [REJECTED_METRIC]: n }, {}));
      }
    },
    producerRun(values) {
      sink(emfLine(now(), dims('producer'), values, PRODUCER_METRICS));
    },
  };
}
