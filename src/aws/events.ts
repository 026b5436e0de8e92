/**
 * EventBridge as paypipe uses it: the producer's schedule rule (read it, turn it on or off, change
 * its expression) and the rule's producer target, whose constant Input `{"count": N}` tells the
 * producer how many events to make per run. Shared by `paypipe schedule` and `doctor`.
 *
 * The EventBridge client has no paginators: ListTargetsByRule is paged by hand.
 */
import type { EventBridgeClient, Target } from '@aws-sdk/client-eventbridge';
import { PaypipeError } from '../errors.js';
import { errorName } from './errors.js';

export type { EventBridgeClient } from '@aws-sdk/client-eventbridge';

const sdk = () => import('@aws-sdk/client-eventbridge');

export interface RuleDescription {
  name: string;
  enabled: boolean;
  /** `rate(1 minute)`, `cron(…)`; undefined for an event-pattern rule. */
  expression?: string | undefined;
  description?: string | undefined;
  roleArn?: string | undefined;
  eventBusName?: string | undefined;
}

/** DescribeRule, or undefined when the rule does not exist. */
export async function describeRule(
  eb: EventBridgeClient,
  name: string,
): Promise<RuleDescription | undefined> {
  const { DescribeRuleCommand } = await sdk();
  try {
    const r = await eb.send(new DescribeRuleCommand({ Name: name }));
    return {
      name,
      enabled: r.State === 'ENABLED',
      expression: r.ScheduleExpression,
      description: r.Description,
      roleArn: r.RoleArn,
      eventBusName: r.EventBusName,
    };
  } catch (e) {
    if (errorName(e) === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

/** EnableRule / DisableRule. */
export async function setRuleEnabled(eb: EventBridgeClient, name: string, enabled: boolean): Promise<void> {
  const { EnableRuleCommand, DisableRuleCommand } = await sdk();
  await eb.send(enabled ? new EnableRuleCommand({ Name: name }) : new DisableRuleCommand({ Name: name }));
}

/**
 * A new schedule expression (and state) for the rule. PutRule replaces the whole rule, so what
 * is not being changed (description, role, event bus) is carried over from `rule`.
 */
export async function setRuleSchedule(
  eb: EventBridgeClient,
  rule: RuleDescription,
  expression: string,
  enabled: boolean,
): Promise<void> {
  const { PutRuleCommand } = await sdk();
  await eb.send(
    new PutRuleCommand({
      Name: rule.name,
      ScheduleExpression: expression,
      State: enabled ? 'ENABLED' : 'DISABLED',
      Description: rule.description,
      RoleArn: rule.roleArn,
      EventBusName: rule.eventBusName,
    }),
  );
}

/** Every target of the rule (ListTargetsByRule, page by page). */
export async function listRuleTargets(eb: EventBridgeClient, rule: string): Promise<Target[]> {
  const { ListTargetsByRuleCommand } = await sdk();
  const out: Target[] = [];
  let token: string | undefined;
  do {
    const page = await eb.send(
      new ListTargetsByRuleCommand({ Rule: rule, ...(token === undefined ? {} : { NextToken: token }) }),
    );
    out.push(...(page.Targets ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return out;
}

/** Replaces one target of the rule (PutTargets reports failures per entry, not as an error). */
export async function putRuleTarget(eb: EventBridgeClient, rule: string, target: Target): Promise<void> {
  const { PutTargetsCommand } = await sdk();
  const res = await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [target] }));
  if ((res.FailedEntryCount ?? 0) > 0) {
    const f = res.FailedEntries?.[0];
    throw new PaypipeError('AWS', `PutTargets on rule ${rule} failed: ${f?.ErrorCode}: ${f?.ErrorMessage}`, {
      hint: 'run again with --debug for details',
    });
  }
}

/**
 * The target invoking the producer function, any version or alias of it (else the rule's first
 * target). The whole name must match: `…:function:paypipe-dev-producer-old` is another function.
 */
export const producerTarget = (targets: readonly Target[], producerFunction: string): Target | undefined =>
  targets.find((x) => {
    const arn = x.Arn ?? '';
    const at = arn.indexOf(`:function:${producerFunction}`);
    const end = at + `:function:${producerFunction}`.length;
    return at >= 0 && (end === arn.length || arn[end] === ':');
  }) ?? targets[0];

/** The producer's `count` from a target's constant Input (`{"count": N}`), if any. */
export function countFromInput(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  try {
    const c = (JSON.parse(input) as { count?: unknown }).count;
    return typeof c === 'number' ? c : undefined;
  } catch {
    return undefined;
  }
}

export interface ProducerSchedule {
  rule: RuleDescription;
  /** The producer target (undefined: the rule has none). */
  target: Target | undefined;
  /** Events per run from the target's Input; undefined: the producer's own default applies. */
  count: number | undefined;
}

/** The producer's schedule as the rule and its target say, or undefined when the rule is gone. */
export async function readProducerSchedule(
  eb: EventBridgeClient,
  rule: string,
  producerFunction: string,
): Promise<ProducerSchedule | undefined> {
  const description = await describeRule(eb, rule);
  if (description === undefined) return undefined;
  const target = producerTarget(await listRuleTargets(eb, rule), producerFunction);
  return { rule: description, target, count: countFromInput(target?.Input) };
}
