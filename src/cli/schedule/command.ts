/**
 * `paypipe schedule`: flags and help only; the EventBridge / local scheduler code
 * (src/cli/schedule/schedule.ts) loads when the command runs.
 */
import { type Command, Option } from 'commander';
import { addTargetOptions, intFlag } from '../options.js';
import type { ScheduleFlags } from './flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('schedule')
    .description(
      "Show or change the producer's schedule (the EventBridge rule on AWS, the local scheduler with --local).",
    )
    .addOption(
      new Option('--rate <every>', 'run every N minutes/hours/days, e.g. "5 minutes"').conflicts('cron'),
    )
    .addOption(
      new Option('--cron <expr>', 'run on an EventBridge cron expression (6 fields, UTC)').conflicts('rate'),
    )
    .addOption(new Option('--enable', 'turn the schedule on').conflicts('disable'))
    .addOption(new Option('--disable', 'turn the schedule off (no events are produced)').conflicts('enable'))
    .option('-n, --count <n>', 'events per producer invocation', intFlag('--count', 1, 100_000));
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
With no flags, shows the current schedule. Changes apply at once and need no deploy; the
configuration stays the source of truth, so the next \`paypipe deploy\` (or \`paypipe up\` locally)
restores the configured schedule unless the configuration is changed too. On AWS the count is
passed to the producer as the rule target's input {"count": N}.

The local scheduler runs rate() expressions only (seconds allowed: --rate "30 seconds").

Examples:
  $ paypipe schedule                          # show
  $ paypipe schedule --rate "5 minutes"
  $ paypipe schedule --cron "0/15 * * * ? *"  # every 15 minutes
  $ paypipe schedule --disable                # stop producing
  $ paypipe schedule --enable --count 1000
  $ paypipe schedule --local --rate "10 seconds" --count 50`,
  );
  cmd.action(async (flags: ScheduleFlags, c: Command) => {
    const { scheduleCommand } = await import('./run.js');
    await scheduleCommand(flags, c);
  });
}
