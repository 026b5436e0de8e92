/**
 * `paypipe schedule` on AWS, against a small stateful fake of EventBridge (aws-sdk-client-mock):
 * the rule's expression and state, and the producer target whose Input carries the count.
 */
import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  type PutRuleCommandInput,
  PutTargetsCommand,
  type PutTargetsCommandInput,
  type Target,
} from '@aws-sdk/client-eventbridge';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { awsOnlyClients } from '../../../src/aws/clients.js';
import { awsSchedule, cronExpression, rateExpression } from '../../../src/cli/schedule/schedule.js';
import { namesFromConfig, type ResolvedTarget } from '../../../src/cli/target.js';
import { resolveConfig } from '../../../src/pipeline/config.js';

const eb = mockClient(EventBridgeClient);
const lambda = mockClient(LambdaClient);
afterAll(() => {
  eb.restore();
  lambda.restore();
});

const config = resolveConfig({});
const RULE = 'paypipe-dev-ProducerSchedule1A2B';
const PRODUCER_ARN = `arn:aws:lambda:ap-southeast-2:123456789012:function:${config.producer.functionName}`;
const target: Extract<ResolvedTarget, { kind: 'aws' }> = {
  kind: 'aws',
  region: 'ap-southeast-2',
  stackName: 'paypipe-dev',
  config,
  clientTarget: { kind: 'aws', region: 'ap-southeast-2' },
  names: { ...namesFromConfig(config), scheduleRule: RULE },
};

/** EventBridge as far as the command can tell: one rule, its targets. */
let rule: {
  State: 'ENABLED' | 'DISABLED';
  ScheduleExpression: string;
  Description: string;
  RoleArn?: string;
};
let targets: Target[];

beforeEach(() => {
  eb.reset();
  lambda.reset();
  rule = { State: 'ENABLED', ScheduleExpression: 'rate(1 minute)', Description: 'Invokes the producer' };
  targets = [
    {
      Id: 'Target0',
      Arn: PRODUCER_ARN,
      RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
    },
  ];
  eb.on(DescribeRuleCommand).callsFake((i: { Name: string }) => {
    if (i.Name !== RULE)
      throw Object.assign(new Error(`Rule ${i.Name} does not exist.`), { name: 'ResourceNotFoundException' });
    return { Name: RULE, Arn: `arn:aws:events:ap-southeast-2:123456789012:rule/${RULE}`, ...rule };
  });
  eb.on(ListTargetsByRuleCommand).callsFake(() => ({ Targets: structuredClone(targets) }));
  eb.on(PutRuleCommand).callsFake((i: PutRuleCommandInput) => {
    // PutRule replaces the rule: whatever is not passed is lost.
    rule = {
      State: (i.State as 'ENABLED' | 'DISABLED') ?? 'ENABLED',
      ScheduleExpression: i.ScheduleExpression ?? '',
      Description: i.Description ?? '',
      ...(i.RoleArn === undefined ? {} : { RoleArn: i.RoleArn }),
    };
    return { RuleArn: 'arn' };
  });
  eb.on(EnableRuleCommand).callsFake(() => {
    rule.State = 'ENABLED';
    return {};
  });
  eb.on(DisableRuleCommand).callsFake(() => {
    rule.State = 'DISABLED';
    return {};
  });
  eb.on(PutTargetsCommand).callsFake((i: PutTargetsCommandInput) => {
    for (const t of i.Targets ?? []) targets = [...targets.filter((x) => x.Id !== t.Id), t];
    return { FailedEntryCount: 0, FailedEntries: [] };
  });
  lambda
    .on(GetFunctionConfigurationCommand)
    .resolves({ Environment: { Variables: { EVENTS_PER_INVOCATION: '100' } } });
});

const clients = () => awsOnlyClients({ kind: 'aws', region: 'ap-southeast-2' });

describe('awsSchedule', () => {
  it('shows the rule, with the count the function defaults to when the rule passes none', async () => {
    const v = await awsSchedule(target, {}, await clients());
    expect(v).toEqual({
      target: 'aws',
      rule: RULE,
      enabled: true,
      expression: 'rate(1 minute)',
      count: 100,
      countSource: 'function default',
      configured: { enabled: true, expression: 'rate(1 minute)', count: 100 },
      changed: [],
    });
    expect(eb.commandCalls(PutRuleCommand)).toHaveLength(0);
  });

  it('changes the expression with PutRule, keeping state, description and role, and says deploy restores it', async () => {
    rule.RoleArn = 'arn:aws:iam::123456789012:role/events';
    rule.State = 'DISABLED';
    const v = await awsSchedule(target, { expression: 'rate(5 minutes)' }, await clients());
    expect(eb.commandCalls(PutRuleCommand)[0]?.args[0].input).toEqual({
      Name: RULE,
      ScheduleExpression: 'rate(5 minutes)',
      State: 'DISABLED',
      Description: 'Invokes the producer',
      RoleArn: 'arn:aws:iam::123456789012:role/events',
      EventBusName: undefined,
    });
    expect(v).toMatchObject({
      expression: 'rate(5 minutes)',
      enabled: false,
      changed: ['expression rate(1 minute) → rate(5 minutes)'],
    });
    expect(v.note).toBe(
      'the next `paypipe deploy` restores the configured schedule (rate(1 minute), enabled, 100 events per run): it reverts changes made outside CloudFormation; to keep this one, set schedule, scheduleEnabled and eventsPerInvocation in paypipe.config.json',
    );
  });

  it('enables and disables with EnableRule / DisableRule, and an expression change with --enable in one PutRule', async () => {
    const off = await awsSchedule(target, { enabled: false }, await clients());
    expect(off).toMatchObject({ enabled: false, changed: ['disabled'] });
    expect(eb.commandCalls(DisableRuleCommand)).toHaveLength(1);
    expect(eb.commandCalls(PutRuleCommand)).toHaveLength(0);
    const on = await awsSchedule(
      target,
      { enabled: true, expression: 'cron(0/15 * * * ? *)' },
      await clients(),
    );
    expect(on).toMatchObject({ enabled: true, expression: 'cron(0/15 * * * ? *)' });
    expect(on.changed).toEqual(['expression rate(1 minute) → cron(0/15 * * * ? *)', 'enabled']);
    expect(eb.commandCalls(PutRuleCommand)[0]?.args[0].input.State).toBe('ENABLED');
    expect(eb.commandCalls(EnableRuleCommand)).toHaveLength(0);
  });

  it('sets the count as the target input, keeping the target and the other input fields', async () => {
    targets = [{ ...targets[0], Id: 'Target0', Arn: PRODUCER_ARN, Input: '{"seed":42}' }];
    const v = await awsSchedule(target, { count: 250 }, await clients());
    const put = eb.commandCalls(PutTargetsCommand)[0]?.args[0].input;
    expect(put?.Rule).toBe(RULE);
    expect(put?.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: PRODUCER_ARN,
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
        Input: '{"seed":42,"count":250}',
      },
    ]);
    expect(v).toMatchObject({ count: 250, countSource: 'rule input', changed: ['count 100 → 250'] });
    expect(v.note).toContain('next `paypipe deploy` restores');
  });

  it('refuses a target it cannot pass a count to, a missing rule, and reports denied calls with a hint', async () => {
    targets = [{ Id: 'T', Arn: PRODUCER_ARN, InputPath: '$.detail' }];
    await expect(awsSchedule(target, { count: 5 }, await clients())).rejects.toMatchObject({
      code: 'AWS',
      message: expect.stringContaining('InputPath/InputTransformer'),
    });
    await expect(
      awsSchedule({ ...target, names: { ...target.names, scheduleRule: 'gone' } }, {}, await clients()),
    ).rejects.toMatchObject({ code: 'STACK_NOT_FOUND', message: 'EventBridge rule gone does not exist' });
    await expect(
      awsSchedule({ ...target, names: { ...target.names, scheduleRule: undefined } }, {}, await clients()),
    ).rejects.toMatchObject({ code: 'STACK_INCOMPLETE' });
    eb.on(PutRuleCommand).rejects(
      Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }),
    );
    await expect(awsSchedule(target, { expression: 'rate(2 hours)' }, await clients())).rejects.toMatchObject(
      {
        code: 'AWS',
        message: `changing rule ${RULE} failed: AccessDeniedException: not authorized`,
        hint: expect.stringContaining('events:DescribeRule, PutRule'),
      },
    );
  });
});

describe('flag parsing', () => {
  it.each([
    ['5 minutes', 'rate(5 minutes)'],
    ['5m', 'rate(5 minutes)'],
    ['1 minutes', 'rate(1 minute)'],
    ['1 hour', 'rate(1 hour)'],
    ['2h', 'rate(2 hours)'],
    ['rate(2 days)', 'rate(2 days)'],
    [' 10 MINUTES ', 'rate(10 minutes)'],
  ])('--rate %s → %s', (text, expr) => {
    expect(rateExpression(text, false)).toBe(expr);
  });

  it('allows seconds only locally', () => {
    expect(rateExpression('30 seconds', true)).toBe('rate(30 seconds)');
    expect(() => rateExpression('30 seconds', false)).toThrow(/at most once a minute/);
  });

  it.each(['every minute', '0 minutes', '5 weeks', ''])('rejects --rate %j as a usage error', (text) => {
    let err: unknown;
    try {
      rateExpression(text, false);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'USAGE' });
  });

  it('checks cron expressions for six fields and one "?"', () => {
    expect(cronExpression('0/5 * * * ? *')).toBe('cron(0/5 * * * ? *)');
    expect(cronExpression('cron(0 8 ? * MON-FRI *)')).toBe('cron(0 8 ? * MON-FRI *)');
    expect(() => cronExpression('*/5 * * * *')).toThrow(/6 fields .* got 5/);
    expect(() => cronExpression('0 8 * * * *')).toThrow(/must be "\?"/);
  });
});
