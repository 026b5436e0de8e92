/**
 * `paypipe schedule`: show and change the producer's schedule without touching infrastructure code.
 * On AWS through the EventBridge rule the stack created (expression and state on the rule, the
 * per-invocation count as the target's constant Input `{"count": N}`, which the producer reads);
 * locally through the local scheduler's schedule.json. The configuration stays the source of truth:
 * the next `deploy` (or `up`) restores it, and the output says so.
 */
import { resolve } from 'node:path';
import type { AwsClients } from '../../aws/clients.js';
import { errorLine, errorName } from '../../aws/errors.js';
import type { PipelineConfig } from '../../pipeline/config.js';
import { PaypipeError, usageError } from '../../errors.js';
import type { Style } from '../io.js';
import type { TargetFlags } from '../options.js';
import type { ResolvedTarget } from '../target.js';

export interface ScheduleChange {
  expression?: string | undefined;
  enabled?: boolean | undefined;
  count?: number | undefined;
}

export interface ScheduleState {
  enabled: boolean;
  expression: string;
  /** Events per producer invocation; undefined when unknown. */
  count: number | undefined;
}

export interface ScheduleView extends ScheduleState {
  target: 'aws' | 'local';
  /** The EventBridge rule, or `local scheduler`. */
  rule: string;
  /** Where count comes from: the rule target's Input, the function's default, the local file. */
  countSource: 'rule input' | 'function default' | 'configuration' | 'local schedule';
  /** What the configuration says (what deploy / up restores). */
  configured: ScheduleState;
  /** Human descriptions of what this run changed (empty when only showing). */
  changed: string[];
  note?: string | undefined;
}

const RATE = /^(?:rate\(\s*)?(\d+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\s*\)?$/i;
const UNIT: Record<string, 'second' | 'minute' | 'hour' | 'day'> = {
  s: 'second',
  sec: 'second',
  secs: 'second',
  second: 'second',
  seconds: 'second',
  m: 'minute',
  min: 'minute',
  mins: 'minute',
  minute: 'minute',
  minutes: 'minute',
  h: 'hour',
  hr: 'hour',
  hrs: 'hour',
  hour: 'hour',
  hours: 'hour',
  d: 'day',
  day: 'day',
  days: 'day',
};

/**
 * `--rate "5 minutes"` (or `5m`, `rate(5 minutes)`) → `rate(5 minutes)`, with EventBridge's own
 * singular/plural rule applied for the user. Seconds only locally: EventBridge's minimum is 1 minute.
 */
export function rateExpression(text: string, allowSeconds: boolean): string {
  const m = RATE.exec(text.trim());
  if (m === null) {
    throw usageError(
      `--rate must be like "5 minutes", "1 hour" or "rate(2 days)", got "${text}"`,
      'units: minute(s), hour(s), day(s)',
    );
  }
  const n = Number(m[1]);
  const unit = UNIT[(m[2] as string).toLowerCase()] as string;
  if (n < 1) throw usageError(`--rate must be at least 1 ${unit}, got "${text}"`);
  if (unit === 'second' && !allowSeconds) {
    throw usageError(
      `--rate "${text}": EventBridge schedules run at most once a minute`,
      'use minutes, hours or days; seconds work only with --local',
    );
  }
  return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
}

/** `--cron "0/5 * * * ? *"` (or `cron(...)`) → `cron(...)`, checked for EventBridge's six fields. */
export function cronExpression(text: string): string {
  const inner = text
    .trim()
    .replace(/^cron\((.*)\)$/s, '$1')
    .trim();
  const fields = inner.split(/\s+/);
  if (fields.length !== 6) {
    throw usageError(
      `--cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length} in "${text}"`,
      'for example --cron "0/5 * * * ? *" (every 5 minutes)',
    );
  }
  if (fields[2] !== '?' && fields[4] !== '?') {
    throw usageError(
      `--cron "${text}": one of day-of-month and day-of-week must be "?"`,
      'for example --cron "0 8 * * ? *" (08:00 UTC daily)',
    );
  }
  return `cron(${fields.join(' ')})`;
}

export function configuredSchedule(config: PipelineConfig): ScheduleState {
  return {
    enabled: config.producer.scheduleEnabled,
    expression: config.producer.schedule,
    count: config.producer.eventsPerInvocation,
  };
}

const describeChanges = (before: ScheduleState, after: ScheduleState): string[] => {
  const out: string[] = [];
  if (before.expression !== after.expression)
    out.push(`expression ${before.expression} → ${after.expression}`);
  if (before.enabled !== after.enabled) out.push(after.enabled ? 'enabled' : 'disabled');
  if (before.count !== after.count) out.push(`count ${before.count ?? 'default'} → ${after.count}`);
  return out;
};

const hasChange = (c: ScheduleChange): boolean =>
  c.expression !== undefined || c.enabled !== undefined || c.count !== undefined;

// ---------------------------------------------------------------------------------------------- AWS

type AwsTarget = Extract<ResolvedTarget, { kind: 'aws' }>;

const awsError = (e: unknown, what: string): PaypipeError =>
  new PaypipeError('AWS', `${what} failed: ${errorLine(e)}`, {
    hint: /AccessDenied/.test(errorName(e))
      ? 'your credentials need events:DescribeRule, PutRule, EnableRule, DisableRule, ListTargetsByRule and PutTargets'
      : 'run again with --debug for details',
    cause: e,
  });

export async function awsSchedule(
  t: AwsTarget,
  change: ScheduleChange,
  clients: AwsClients,
): Promise<ScheduleView> {
  const rule = t.names.scheduleRule;
  if (rule === undefined) {
    throw new PaypipeError(
      'STACK_INCOMPLETE',
      `stack ${t.stackName} has no ProducerScheduleRuleName output`,
      {
        hint: 'run `paypipe deploy` to update the stack',
      },
    );
  }
  const events = await import('../../aws/events.js');
  const { producerDefaultCount } = await import('../../aws/lambda.js');
  const eb = await clients.eventBridge();
  const read = async () => {
    const s = await events.readProducerSchedule(eb, rule, t.names.producerFunction);
    if (s === undefined) {
      throw new PaypipeError('STACK_NOT_FOUND', `EventBridge rule ${rule} does not exist`, {
        hint: 'run `paypipe deploy` to recreate it',
      });
    }
    const fallback =
      s.count === undefined
        ? await producerDefaultCount(await clients.lambda(), t.names.producerFunction)
        : undefined;
    const countSource: ScheduleView['countSource'] =
      s.count !== undefined ? 'rule input' : fallback !== undefined ? 'function default' : 'configuration';
    const state: ScheduleState = {
      enabled: s.rule.enabled,
      expression: s.rule.expression ?? '(none)',
      count: s.count ?? fallback ?? t.config.producer.eventsPerInvocation,
    };
    return { ...s, state, countSource };
  };
  const readOr = (what: string) =>
    read().catch((e: unknown) => {
      throw e instanceof PaypipeError ? e : awsError(e, what);
    });

  const before = await readOr(`reading rule ${rule}`);
  if (!hasChange(change)) return view('aws', rule, before.state, before.countSource, t.config, []);

  try {
    const enabled = change.enabled ?? before.state.enabled;
    if (change.expression !== undefined && change.expression !== before.state.expression) {
      await events.setRuleSchedule(eb, before.rule, change.expression, enabled);
    } else if (change.enabled !== undefined && change.enabled !== before.state.enabled) {
      await events.setRuleEnabled(eb, rule, change.enabled);
    }
    if (change.count !== undefined) {
      const target = events.producerTarget(await events.listRuleTargets(eb, rule), t.names.producerFunction);
      if (target?.Id === undefined || target.Arn === undefined) {
        throw new PaypipeError('AWS', `rule ${rule} has no target to pass the count to`, {
          hint: 'run `paypipe deploy` to restore the producer target',
        });
      }
      if (target.InputPath !== undefined || target.InputTransformer !== undefined) {
        throw new PaypipeError(
          'AWS',
          `the target of rule ${rule} uses InputPath/InputTransformer: cannot set a count`,
          {
            hint: 'run `paypipe deploy` to restore the target, then try again',
          },
        );
      }
      let input: Record<string, unknown> = {};
      try {
        input = target.Input === undefined ? {} : (JSON.parse(target.Input) as Record<string, unknown>);
      } catch {
        input = {};
      }
      await events.putRuleTarget(eb, rule, {
        ...target,
        Input: JSON.stringify({ ...input, count: change.count }),
      });
    }
  } catch (e) {
    if (e instanceof PaypipeError) throw e;
    throw awsError(e, `changing rule ${rule}`);
  }
  const after = await readOr(`reading rule ${rule} back`);
  return view(
    'aws',
    rule,
    after.state,
    after.countSource,
    t.config,
    describeChanges(before.state, after.state),
  );
}

// -------------------------------------------------------------------------------------------- local

export async function localSchedule(flags: TargetFlags, change: ScheduleChange): Promise<ScheduleView> {
  const dataDir = resolve(flags.dataDir ?? '.paypipe');
  const { readLocalSchedule, writeLocalSchedule } = await import('../../local/schedule.js');
  const { readLocalEndpoints } = await import('../../local/endpoints.js');
  const { resolveConfig } = await import('../../pipeline/config.js');
  // A change needs the running scheduler (`up` writes its configured schedule when it starts).
  const ep = hasChange(change)
    ? await readLocalEndpoints(dataDir)
    : await readLocalEndpoints(dataDir).catch(() => undefined);
  const config = resolveConfig(ep?.configOverrides ?? {});
  const before = await readLocalSchedule(dataDir);
  if (!hasChange(change)) {
    const v = view('local', 'local scheduler', before, 'local schedule', config, []);
    return ep === undefined
      ? {
          ...v,
          note: `the local pipeline in ${dataDir} is not running; \`paypipe up\` starts with the configured schedule`,
        }
      : v;
  }
  const after = {
    enabled: change.enabled ?? before.enabled,
    expression: change.expression ?? before.expression,
    count: change.count ?? before.count,
  };
  await writeLocalSchedule(dataDir, after);
  const read = await readLocalSchedule(dataDir);
  return view('local', 'local scheduler', read, 'local schedule', config, describeChanges(before, read));
}

function view(
  target: 'aws' | 'local',
  rule: string,
  state: ScheduleState,
  countSource: ScheduleView['countSource'],
  config: PipelineConfig,
  changed: string[],
): ScheduleView {
  const configured = configuredSchedule(config);
  const differs =
    configured.enabled !== state.enabled ||
    configured.expression !== state.expression ||
    (state.count !== undefined && configured.count !== state.count);
  const restore = `${configured.expression}, ${configured.enabled ? 'enabled' : 'disabled'}, ${configured.count} events per run`;
  const note =
    changed.length > 0 || differs
      ? target === 'aws'
        ? `the next \`paypipe deploy\` restores the configured schedule (${restore}): it reverts changes made outside CloudFormation; to keep this one, set schedule, scheduleEnabled and eventsPerInvocation in paypipe.config.json`
        : `the next \`paypipe up\` starts with the configured schedule (${restore})`
      : undefined;
  return {
    target,
    rule,
    ...state,
    countSource,
    configured,
    changed,
    ...(note === undefined ? {} : { note }),
  };
}

export function renderSchedule(v: ScheduleView, style: Style): string {
  const state = v.enabled ? style.green('ENABLED') : style.yellow('DISABLED');
  const count = v.count === undefined ? 'default count' : `${v.count.toLocaleString('en-US')} events per run`;
  const lines = [`${style.bold('producer schedule')} (${v.rule}): ${state}, ${v.expression}, ${count}`];
  if (v.changed.length > 0) lines.push(`changed: ${v.changed.join('; ')}`);
  if (v.note !== undefined) lines.push(style.dim(`note: ${v.note}`));
  return lines.join('\n');
}
