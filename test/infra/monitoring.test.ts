/**
 * The stack's alarms, topic and dashboard, asserted against the alarm definitions of the one
 * configuration (src/pipeline/alarms.ts) with thresholds and a subscription set per environment —
 * so a threshold that stopped flowing from the config, an alarm without the topic as its action or
 * a dashboard missing a figure fails here. cdk-nag and CDK's validation run in validation.test.ts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/infra/app.js';
import type { PaypipeStack } from '../../src/infra/pipeline-stack.js';
import { type AlarmDef, alarmDefinitions } from '../../src/pipeline/alarms.js';
import { resolveConfig } from '../../src/pipeline/config.js';
import { REJECT_REASONS } from '../../src/domain/event.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

const config = resolveConfig({
  environment: 'prod',
  alarmLagSeconds: 420,
  alarmRejectPercent: 7,
  alarmFreshnessSeconds: 1200,
  alarmEvaluationPeriods: 4,
  alarmSubscription: 'oncall@example.com',
  schedule: 'rate(5 minutes)',
});
let template: Template;
let resources: Resources;
let stack: PaypipeStack;

beforeAll(() => {
  const built = buildApp(config, { outdir: mkdtempSync(join(tmpdir(), 'paypipe-mon-')), validation: false });
  stack = built.stack;
  const json = built.app.synth().getStackArtifact(stack.artifactId).template as { Resources: Resources };
  template = Template.fromJSON(json);
  resources = json.Resources;
}, 120_000);

const topicId = (): string =>
  stack.getLogicalId(
    stack.monitoring!.topic.node.defaultChild as Parameters<PaypipeStack['getLogicalId']>[0],
  );

const alarms = (): Map<string, Record<string, unknown>> =>
  new Map(
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => [r.Properties?.AlarmName as string, r.Properties as Record<string, unknown>]),
  );

describe('alarms', () => {
  const defs = alarmDefinitions(config);

  it('the definitions cover what the issue lists, with the thresholds of the configuration', () => {
    const byId = new Map(defs.map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(
      [
        'lag',
        'aggregator-errors',
        'producer-errors',
        'failed-batches',
        'rejects',
        'freshness-raw',
        'freshness-analytics',
        'delivery-raw',
        'delivery-analytics',
        'input-throttled',
        'producer-schedule',
      ].sort(),
    );
    expect(byId.get('lag')?.threshold).toBe(420_000);
    expect(byId.get('lag')?.evaluationPeriods).toBe(4);
    expect(byId.get('rejects')?.threshold).toBe(7);
    expect(byId.get('freshness-raw')?.threshold).toBe(1200);
    // rate(5 minutes): one period spans two runs.
    expect(byId.get('producer-schedule')?.periodSeconds).toBe(600);
  });

  it('every alarm: its metric, statistic, threshold, comparison, periods, and the topic for ALARM and OK', () => {
    const deployed = alarms();
    expect(deployed.size).toBe(defs.length);
    for (const d of defs) {
      const a = deployed.get(d.name);
      expect(a, d.name).toBeDefined();
      expect(a).toMatchObject({
        Threshold: d.threshold,
        ComparisonOperator: d.comparison,
        EvaluationPeriods: d.evaluationPeriods,
        DatapointsToAlarm: d.evaluationPeriods,
        AlarmActions: [{ Ref: topicId() }],
        OKActions: [{ Ref: topicId() }],
      });
      expect(a?.AlarmDescription).toContain(`paypipe doctor --env ${config.environment}`);
      expectInput(d, a as Record<string, unknown>);
    }
  });

  it('no producer alarm when the schedule is disabled (it would fire forever)', () => {
    const off = alarmDefinitions(resolveConfig({ environment: 'prod', scheduleEnabled: false }));
    expect(off.map((d) => d.id)).not.toContain('producer-schedule');
  });

  it('monitoring: false leaves alarms, topic and dashboard out of the stack', () => {
    const off = resolveConfig({ environment: 'prod', monitoring: false });
    const b = buildApp(off, { outdir: mkdtempSync(join(tmpdir(), 'paypipe-mon-off-')), validation: false });
    const t = Template.fromJSON(b.app.synth().getStackArtifact(b.stack.artifactId).template as object);
    expect(b.stack.monitoring).toBeUndefined();
    for (const type of ['AWS::CloudWatch::Alarm', 'AWS::SNS::Topic', 'AWS::CloudWatch::Dashboard']) {
      t.resourceCountIs(type, 0);
    }
  });

  it('one topic, SSL enforced, with the subscription of the configuration', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topicId() },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
  });

  it('no subscription without one configured', () => {
    const built = buildApp(resolveConfig({ environment: 'dev' }), {
      outdir: mkdtempSync(join(tmpdir(), 'paypipe-mon-')),
      validation: false,
    });
    const t = Template.fromStack(built.stack);
    t.resourceCountIs('AWS::SNS::Subscription', 0);
    t.resourceCountIs('AWS::SNS::Topic', 1);
  }, 120_000);
});

function expectInput(d: AlarmDef, a: Record<string, unknown>): void {
  if (d.input.kind === 'metric') {
    expect(a).toMatchObject({
      Namespace: d.input.metric.namespace,
      MetricName: d.input.metric.metricName,
      Statistic: d.input.metric.statistic,
      Period: d.periodSeconds,
    });
    const dims = a.Dimensions as { Name: string; Value: string }[];
    expect(Object.fromEntries(dims.map((x) => [x.Name, x.Value]))).toEqual(d.input.metric.dimensions);
    return;
  }
  const metrics = a.Metrics as Array<Record<string, unknown>>;
  const expr = metrics.find((m) => m.Expression !== undefined);
  expect(expr?.Expression).toBe(d.input.expression);
  for (const [id, m] of Object.entries(d.input.using)) {
    expect(metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Id: id,
          ReturnData: false,
          MetricStat: expect.objectContaining({
            Stat: m.statistic,
            Period: d.periodSeconds,
            Metric: expect.objectContaining({ Namespace: m.namespace, MetricName: m.metricName }),
          }),
        }),
      ]),
    );
  }
}

describe('dashboard', () => {
  it('throughput in/out, lag, rejects by reason, Firehose freshness, errors and alarm states', () => {
    const [, dash] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard') ?? [];
    expect(dash?.Properties?.DashboardName).toBe(config.stackName);
    const body = JSON.stringify(dash?.Properties?.DashboardBody);
    for (const title of [
      'Alarms',
      'Throughput in / out',
      'Lag (ms)',
      'Rejects by reason',
      'Firehose data freshness',
      'Errors, throttles, failed batches',
    ]) {
      expect(body).toContain(title);
    }
    for (const m of [
      'IncomingRecords',
      'RecordsIn',
      'AggregatesOut',
      'IteratorAge',
      'DeliveryToS3.DataFreshness',
    ]) {
      expect(body).toContain(m);
    }
    for (const reason of REJECT_REASONS) expect(body).toContain(reason);
    // The alarm status widget lists every alarm (by ARN).
    for (const id of stack.monitoring!.alarms.keys()) {
      const logical = stack.getLogicalId(
        stack.monitoring!.alarms.get(id)?.node.defaultChild as Parameters<PaypipeStack['getLogicalId']>[0],
      );
      expect(body).toContain(logical);
    }
  });
});
