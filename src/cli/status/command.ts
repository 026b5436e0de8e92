/**
 * `paypipe status`: flags and help only; the metrics readers load inside the action (./status.ts).
 */
import type { Command } from 'commander';
import {
  addTargetOptions,
  durationFlag,
  ioFor,
  type WhenFlagOptions,
  whenFlag,
  whenHelp,
} from '../options.js';
import type { StatusFlags } from './flags.js';

/** A history of at least a minute, at most a day; `now` would draw nothing and is not taken. */
const SINCE: WhenFlagOptions = { now: false, minAgoMs: 60_000, maxAgoMs: 86_400_000 };

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description(
      'A live view of the pipeline: throughput and lag sparklines, shard headroom, rejects, alarms.',
    )
    .option(
      '--since <when>',
      whenHelp('history drawn from', SINCE, '(default: 30m)'),
      whenFlag('--since', SINCE),
    )
    .option(
      '--interval <duration>',
      'refresh every (default 5s locally, 1m on AWS)',
      durationFlag('--interval', 1000, 3_600_000),
    )
    .option(
      '--once',
      'print one frame and exit (the default when stdout is not a terminal, and with --json)',
    );
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
The same figures doctor judges, refreshed: input records and bytes per second against the shards'
write limits (1,000 records/s and 1 MiB/s per shard), aggregates out, the aggregator's lag, rejects
by reason and every alarm's state. On AWS from CloudWatch (GetMetricData, DescribeAlarms: per-minute
metrics); locally from the metrics the local functions write (10 s points), with the stack's alarm
definitions evaluated over them. Ctrl-C ends it.

Examples:
  $ paypipe status --local
  $ paypipe status --env prod --since 3h
  $ paypipe status --env prod --once --json`,
  );
  cmd.action(async (flags: StatusFlags, c: Command) => {
    const io = ioFor(c);
    const { runStatus } = await import('./status.js');
    await runStatus(flags, io);
  });
}
