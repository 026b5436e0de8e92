/**
 * `paypipe logs [producer|aggregator|all]`: flags and help only; the implementation
 * (src/cli/logs/logs.ts, and the SDK with it) is loaded when the command runs.
 */
import { type Command, Option } from 'commander';
import { LOG_LEVELS } from '../../pipeline/log-format.js';
import { implicitWhen } from '../../pipeline/time-range.js';
import { addTargetOptions, choiceFlag, type WhenFlagOptions, whenFlag, whenHelp } from '../options.js';
import type { LogsFlags } from './flags.js';

const SINCE: WhenFlagOptions = { maxAgoMs: 31 * 86_400_000 };

export function register(program: Command): void {
  const cmd = program
    .command('logs')
    .description(
      "Show the producer's and the aggregator's logs as one readable stream (CloudWatch Logs, or the local pipeline with --local).",
    )
    .argument(
      '[function]',
      'producer, aggregator or all',
      choiceFlag('function', ['producer', 'aggregator', 'all'] as const),
      'all',
    )
    .option('-f, --follow', 'keep streaming new events (CloudWatch Live Tail; polling where unavailable)')
    .addOption(
      new Option(
        '--since <when>',
        whenHelp('start', SINCE, '(at most 31d ago; now: only new events, with --follow)'),
      )
        .argParser(whenFlag('--since', SINCE))
        .default(implicitWhen('--since', '10m'), '10m'),
    )
    .option(
      '--filter <pattern>',
      'CloudWatch filter pattern: terms, "phrases", -excluded, ?any, %regex%, { $.field = value }',
    )
    .option('--level <level>', `minimum level: ${LOG_LEVELS.join(', ')}`, choiceFlag('--level', LOG_LEVELS))
    .option('-q, --quiet', "hide Lambda's START/END/REPORT lines (and progress notes)");
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Lines read: time (UTC), function, level, message, then the key fields (records_in, valid, rejected,
rejected_by_reason, aggregates_out, windows, ...). Each invocation's START/END/REPORT lines are folded
into one REPORT line with duration and memory; --quiet hides it. --json prints the raw events as NDJSON.

On AWS --filter is passed to CloudWatch as is. With --local the same syntax is applied to the local
log files, for terms, "quoted phrases", -term, ?term, %regex% and JSON patterns with = != < > <= >=,
&&, ||, parentheses, * wildcards, IS NULL/TRUE/FALSE and (NOT) EXISTS. Space-delimited [a, b]
patterns are AWS only.

Examples:
  $ paypipe logs                                   # both functions, last 10 minutes
  $ paypipe logs aggregator --follow --level warn  # live, warnings and errors only
  $ paypipe logs --since 2h --filter '{ $.rejected > 0 }'
  $ paypipe logs producer --since 1d --quiet
  $ paypipe logs --local --follow                  # the pipeline started by \`paypipe up\`
  $ paypipe logs --json --since 1h | jq -r .message`,
  );
  cmd.action(async (fn: 'producer' | 'aggregator' | 'all', flags: LogsFlags, c: Command) => {
    const { logsCommand } = await import('./run.js');
    await logsCommand(fn, flags, c);
  });
}
