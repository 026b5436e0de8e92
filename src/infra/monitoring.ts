/**
 * Alarms, their SNS topic and the dashboard of one environment. The alarms are the definitions of
 * src/pipeline/alarms.ts (thresholds from the configuration), each with the topic as its alarm and
 * OK action; the optional subscription comes from `alarmSubscription`.
 */
import { Duration, Tags } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  type AlarmDef,
  type AlarmInput,
  alarmDefinitions,
  type MetricRef,
  ownMetric,
} from '../pipeline/alarms.js';
import { type PipelineConfig, subscriptionProtocol } from '../pipeline/config.js';
import { REJECT_REASONS } from '../domain/event.js';
import { REJECTED_METRIC } from '../pipeline/metrics.js';

const COMPARISON: Record<AlarmDef['comparison'], cloudwatch.ComparisonOperator> = {
  GreaterThanThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  GreaterThanOrEqualToThreshold: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  LessThanThreshold: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
  LessThanOrEqualToThreshold: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
};

const MISSING: Record<AlarmDef['missing'], cloudwatch.TreatMissingData> = {
  notBreaching: cloudwatch.TreatMissingData.NOT_BREACHING,
  breaching: cloudwatch.TreatMissingData.BREACHING,
  missing: cloudwatch.TreatMissingData.MISSING,
};

function metricOf(m: MetricRef, period: Duration, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: m.namespace,
    metricName: m.metricName,
    dimensionsMap: { ...m.dimensions },
    statistic: m.statistic,
    period,
    ...(label === undefined ? {} : { label }),
  });
}

function inputOf(input: AlarmInput, period: Duration): cloudwatch.IMetric {
  if (input.kind === 'metric') return metricOf(input.metric, period);
  return new cloudwatch.MathExpression({
    expression: input.expression,
    label: input.label,
    period,
    usingMetrics: Object.fromEntries(Object.entries(input.using).map(([k, m]) => [k, metricOf(m, period)])),
  });
}

export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: Map<string, cloudwatch.Alarm> = new Map();
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, config: PipelineConfig) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `${config.stackName}-alarms`,
      displayName: `paypipe ${config.stackName} alarms`,
      enforceSSL: true,
    });
    const endpoint = config.alarms.subscription;
    if (endpoint !== null) {
      const protocol = subscriptionProtocol(endpoint);
      this.topic.addSubscription(
        protocol === 'email'
          ? new subs.EmailSubscription(endpoint)
          : protocol === 'https'
            ? new subs.UrlSubscription(endpoint, { protocol: sns.SubscriptionProtocol.HTTPS })
            : protocol === 'sqs'
              ? new subs.SqsSubscription(sqs.Queue.fromQueueArn(this, 'SubscribedQueue', endpoint))
              : new subs.LambdaSubscription(
                  lambda.Function.fromFunctionArn(this, 'SubscribedFunction', endpoint),
                ),
      );
    }
    const action = new cwActions.SnsAction(this.topic);
    for (const def of alarmDefinitions(config)) {
      const alarm = new cloudwatch.Alarm(this, `Alarm-${def.id}`, {
        alarmName: def.name,
        alarmDescription: def.description,
        metric: inputOf(def.input, Duration.seconds(def.periodSeconds)),
        threshold: def.threshold,
        comparisonOperator: COMPARISON[def.comparison],
        evaluationPeriods: def.evaluationPeriods,
        datapointsToAlarm: def.evaluationPeriods,
        treatMissingData: MISSING[def.missing],
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      this.alarms.set(def.id, alarm);
    }
    this.dashboard = this.buildDashboard(config);
  }

  private buildDashboard(config: PipelineConfig): cloudwatch.Dashboard {
    const minute = Duration.minutes(1);
    const own = (service: 'aggregator' | 'producer', name: string, stat: 'Sum' | 'Maximum', label: string) =>
      metricOf(ownMetric(config, service, name, stat), minute, label);
    const aws = (
      namespace: string,
      name: string,
      dims: Record<string, string>,
      stat: string,
      label: string,
    ) =>
      new cloudwatch.Metric({
        namespace,
        metricName: name,
        dimensionsMap: dims,
        statistic: stat,
        period: minute,
        label,
      });
    const input = { StreamName: config.streams.input.name };
    const fn = (f: string) => ({ FunctionName: f });
    const d = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: config.stackName,
      defaultInterval: Duration.hours(3),
    });
    // CloudFormation's AWS::CloudWatch::Dashboard takes no Tags (cfn-lint E3002): keep the stack's off it.
    for (const key of Object.keys(config.tags)) Tags.of(d).remove(key);
    d.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...this.alarms.values()],
        width: 24,
        height: 3,
      }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Throughput in / out (per minute)',
        left: [
          aws('AWS/Kinesis', 'IncomingRecords', input, 'Sum', 'input stream records'),
          own('aggregator', 'RecordsIn', 'Sum', 'aggregator records in'),
          own('aggregator', 'AggregatesOut', 'Sum', 'aggregates out'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lag (ms)',
        left: [
          aws(
            'AWS/Lambda',
            'IteratorAge',
            fn(config.aggregator.functionName),
            'Maximum',
            'aggregator iterator age',
          ),
          aws(
            'AWS/Kinesis',
            'GetRecords.IteratorAgeMilliseconds',
            input,
            'Maximum',
            'input stream iterator age',
          ),
        ],
        leftAnnotations: [{ value: config.alarms.lagSeconds * 1000, label: 'alarm' }],
        width: 12,
      }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Rejects by reason (per minute)',
        left: REJECT_REASONS.map((reason) =>
          metricOf(
            {
              ...ownMetric(config, 'aggregator', REJECTED_METRIC, 'Sum'),
              dimensions: { service: 'aggregator', environment: config.stackName, reason },
            },
            minute,
            reason,
          ),
        ),
        stacked: true,
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Firehose data freshness (s)',
        left: (['raw', 'analytics'] as const).map((w) =>
          aws(
            'AWS/Firehose',
            'DeliveryToS3.DataFreshness',
            { DeliveryStreamName: config.firehose[w].name },
            'Maximum',
            w,
          ),
        ),
        leftAnnotations: [{ value: config.alarms.freshnessSeconds, label: 'alarm' }],
        width: 12,
      }),
    );
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Errors, throttles, failed batches',
        left: [
          aws('AWS/Lambda', 'Errors', fn(config.aggregator.functionName), 'Sum', 'aggregator errors'),
          aws('AWS/Lambda', 'Throttles', fn(config.aggregator.functionName), 'Sum', 'aggregator throttles'),
          aws('AWS/Lambda', 'Errors', fn(config.producer.functionName), 'Sum', 'producer errors'),
          own('aggregator', 'BatchFailures', 'Sum', 'batches retried'),
          aws('AWS/Kinesis', 'WriteProvisionedThroughputExceeded', input, 'Sum', 'input write throttles'),
        ],
        width: 24,
      }),
    );
    return d;
  }
}
