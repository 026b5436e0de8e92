/**
 * src/aws/events.ts against a fake EventBridge (no local server implements it): the producer's
 * schedule read from the rule and its target (targets paged, the producer's found on any page),
 * a missing rule, PutRule carrying over what it would otherwise erase, per-entry PutTargets
 * failures, and a count read from whatever a target's Input holds.
 */
import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  type ListTargetsByRuleCommandInput,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  countFromInput,
  describeRule,
  putRuleTarget,
  readProducerSchedule,
  setRuleEnabled,
  setRuleSchedule,
} from '../../src/aws/events.js';
import { isPaypipeError } from '../../src/errors.js';

const eb = mockClient(EventBridgeClient);
afterAll(() => eb.restore());
beforeEach(() => eb.reset());
const client = new EventBridgeClient({ region: 'ap-southeast-2' });

const RULE = 'paypipe-dev-ProducerSchedule';
const PRODUCER = 'arn:aws:lambda:ap-southeast-2:123456789012:function:paypipe-dev-producer';
const notFound = () =>
  Object.assign(new Error(`Rule ${RULE} does not exist on EventBus default.`), {
    name: 'ResourceNotFoundException',
  });

describe('readProducerSchedule', () => {
  it('reads state, expression and the count from the producer target, on whichever page it is', async () => {
    eb.on(DescribeRuleCommand).resolves({
      Name: RULE,
      State: 'DISABLED',
      ScheduleExpression: 'rate(5 minutes)',
      Description: 'Invokes the producer',
      RoleArn: 'arn:aws:iam::123456789012:role/r',
    });
    const calls: ListTargetsByRuleCommandInput[] = [];
    eb.on(ListTargetsByRuleCommand).callsFake((i: ListTargetsByRuleCommandInput) => {
      calls.push(i);
      return i.NextToken === undefined
        ? {
            Targets: [{ Id: 'audit', Arn: 'arn:aws:sqs:ap-southeast-2:123456789012:audit' }],
            NextToken: 'p2',
          }
        : { Targets: [{ Id: 'Target0', Arn: PRODUCER, Input: '{"count":250}' }] };
    });
    const s = await readProducerSchedule(client, RULE, 'paypipe-dev-producer');
    expect(s).toMatchObject({
      rule: {
        name: RULE,
        enabled: false,
        expression: 'rate(5 minutes)',
        description: 'Invokes the producer',
      },
      target: { Id: 'Target0', Arn: PRODUCER },
      count: 250,
    });
    expect(calls.map((c) => c.NextToken)).toEqual([undefined, 'p2']);
  });

  it('a rule that is gone is undefined (not an exception); other errors are thrown as they are', async () => {
    eb.on(DescribeRuleCommand).rejects(notFound());
    expect(await readProducerSchedule(client, RULE, 'paypipe-dev-producer')).toBeUndefined();
    expect(await describeRule(client, RULE)).toBeUndefined();
    eb.on(DescribeRuleCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    await expect(describeRule(client, RULE)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('the producer target is matched by its whole function name (any version or alias)', async () => {
    eb.on(DescribeRuleCommand).resolves({
      Name: RULE,
      State: 'ENABLED',
      ScheduleExpression: 'rate(1 minute)',
    });
    eb.on(ListTargetsByRuleCommand).resolves({
      Targets: [
        // Another function whose name starts like the producer's is not the producer.
        { Id: 'old', Arn: `${PRODUCER}-old`, Input: '{"count":7}' },
        { Id: 'live', Arn: `${PRODUCER}:live`, Input: '{"count":500}' },
      ],
    });
    expect(await readProducerSchedule(client, RULE, 'paypipe-dev-producer')).toMatchObject({
      target: { Id: 'live' },
      count: 500,
    });
  });

  it('no producer target: the first target, else none; no Input: no count', async () => {
    eb.on(DescribeRuleCommand).resolves({
      Name: RULE,
      State: 'ENABLED',
      ScheduleExpression: 'rate(1 minute)',
    });
    eb.on(ListTargetsByRuleCommand).resolves({ Targets: [] });
    expect(await readProducerSchedule(client, RULE, 'p')).toMatchObject({
      target: undefined,
      count: undefined,
    });
    eb.on(ListTargetsByRuleCommand).resolves({ Targets: [{ Id: 'x', Arn: 'arn:other' }] });
    expect(await readProducerSchedule(client, RULE, 'p')).toMatchObject({
      target: { Id: 'x' },
      count: undefined,
    });
  });
});

describe('changing the rule', () => {
  it('setRuleSchedule keeps description, role and bus (PutRule replaces the whole rule)', async () => {
    eb.on(PutRuleCommand).resolves({ RuleArn: 'arn' });
    await setRuleSchedule(
      client,
      { name: RULE, enabled: true, description: 'd', roleArn: 'role', eventBusName: 'bus' },
      'rate(2 hours)',
      false,
    );
    expect(eb.commandCalls(PutRuleCommand)[0]?.args[0].input).toEqual({
      Name: RULE,
      ScheduleExpression: 'rate(2 hours)',
      State: 'DISABLED',
      Description: 'd',
      RoleArn: 'role',
      EventBusName: 'bus',
    });
  });

  it('setRuleEnabled sends EnableRule or DisableRule', async () => {
    eb.on(EnableRuleCommand).resolves({});
    eb.on(DisableRuleCommand).resolves({});
    await setRuleEnabled(client, RULE, true);
    await setRuleEnabled(client, RULE, false);
    expect(eb.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: RULE }]);
    expect(eb.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: RULE }]);
  });

  it('putRuleTarget: a failed entry in a 200 answer is an error naming its code', async () => {
    eb.on(PutTargetsCommand).resolves({
      FailedEntryCount: 1,
      FailedEntries: [
        { TargetId: 'Target0', ErrorCode: 'ConcurrentModificationException', ErrorMessage: 'busy' },
      ],
    });
    const e = await putRuleTarget(client, RULE, { Id: 'Target0', Arn: PRODUCER }).catch((x: unknown) => x);
    expect(isPaypipeError(e)).toBe(true);
    expect((e as Error).message).toBe(
      `PutTargets on rule ${RULE} failed: ConcurrentModificationException: busy`,
    );
  });
});

describe('countFromInput', () => {
  it('reads a numeric count and nothing else', () => {
    for (const bad of [
      undefined,
      '',
      'not json',
      '[1]',
      'null',
      '{"count":"5"}',
      '{"Count":5}',
      '{"count":null}',
    ]) {
      expect(countFromInput(bad), String(bad)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.integer(), fc.dictionary(fc.string(), fc.jsonValue()), (n, extra) => {
        expect(countFromInput(JSON.stringify({ ...extra, count: n }))).toBe(n);
      }),
    );
  });
});
