/** The `schedule` action: flags → a change, applied on AWS or locally, the resulting schedule shown. */
import type { Command } from 'commander';
import type { ScheduleFlags } from './flags.js';
import { ioFor } from '../options.js';
import { resolveTarget } from '../target.js';
import {
  awsSchedule,
  cronExpression,
  localSchedule,
  rateExpression,
  renderSchedule,
  type ScheduleChange,
  type ScheduleView,
} from './schedule.js';

export function changeFromFlags(flags: ScheduleFlags): ScheduleChange {
  const local = flags.local === true;
  return {
    expression:
      flags.rate !== undefined
        ? rateExpression(flags.rate, local)
        : flags.cron !== undefined
          ? cronExpression(flags.cron)
          : undefined,
    enabled: flags.enable === true ? true : flags.disable === true ? false : undefined,
    count: flags.count,
  };
}

export async function scheduleCommand(flags: ScheduleFlags, cmd: Command): Promise<void> {
  const io = ioFor(cmd);
  const change = changeFromFlags(flags);
  let v: ScheduleView;
  if (flags.local === true) {
    v = await localSchedule(flags, change);
  } else {
    const t = await resolveTarget(flags, { need: ['scheduleRule', 'producerFunction'] });
    if (t.kind !== 'aws') throw new Error('unreachable: AWS target expected');
    const { awsOnlyClients } = await import('../../aws/clients.js');
    v = await awsSchedule(t, change, await awsOnlyClients(t.clientTarget, { maxAttempts: 3 }));
  }
  io.result(v, renderSchedule);
}
