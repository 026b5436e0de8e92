/**
 * `paypipe peek`: flags and help only; the stream reader and the SDK load inside the action
 * (src/cli/peek/peek.ts).
 */
import { type Command, Option } from 'commander';
import type { WhenFlag } from '../../pipeline/time-range.js';
import { addTargetOptions, intFlag, type WhenFlagOptions, whenFlag, whenHelp } from '../options.js';
import type { PeekFlags } from './flags.js';

const WEEK_MS = 7 * 86_400_000;

const SINCE: WhenFlagOptions = { positions: true, minAgoMs: 1000, maxAgoMs: WEEK_MS };

/** The old `--from trim-horizon|latest` (and now any --since value): `latest` is `now`. */
const fromFlag =
  (parse: (v: string) => WhenFlag) =>
  (value: string): WhenFlag =>
    value.trim().toLowerCase() === 'latest' ? { ...parse('now'), text: value } : parse(value);

export function register(program: Command): void {
  const cmd = program
    .command('peek')
    .description('Read the input or output Kinesis stream across all shards, decoded and pretty-printed.')
    .option('--stream <stream>', 'input, output, or a stream name', 'input')
    .option(
      '--since <when>',
      whenHelp('start', SINCE, '(now: only new records) (default: 5m)'),
      whenFlag('--since', SINCE),
    )
    .option('-f, --follow', 'keep reading new records until Ctrl-C')
    .option(
      '-n, --count <n>',
      'show at most n records, 1 to 1,000,000 (default: 100, or no limit with --follow)',
      intFlag('--count', 1, 1_000_000),
    )
    .addOption(
      new Option('--at <time>')
        .argParser(whenFlag('--at', { positions: true, minAgoMs: 1000, maxAgoMs: WEEK_MS }))
        .hideHelp(),
    )
    .addOption(
      new Option('--from <position>')
        .argParser(fromFlag(whenFlag('--from', { positions: true, minAgoMs: 1000, maxAgoMs: WEEK_MS })))
        .hideHelp(),
    )
    .addOption(new Option('--limit <n>').argParser(intFlag('--limit', 1, 1_000_000)).hideHelp());
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Every shard is read in parallel (records of one shard stay in order); a shard closed by resharding is
followed by its children. Without --follow the command ends when every shard is caught up. Input events
and output aggregates are printed one per line; anything else is shown as text. --json prints NDJSON:
{ shardId, sequenceNumber, partitionKey, arrival, data } with data the parsed JSON (or "text"/"base64"
when a record is not JSON).

Examples:
  $ paypipe peek --local                        # the last 5 minutes of the input stream
  $ paypipe peek --stream output --since now --follow   # aggregates as the aggregator emits them
  $ paypipe peek --since trim-horizon -n 10     # the oldest 10 records the stream keeps
  $ paypipe peek --since 2024-01-15T10:30Z -n 1000 --json | jq -c .data`,
  );
  cmd.action(async (flags: PeekFlags, c: Command) => {
    const { peekCommand } = await import('./peek.js');
    await peekCommand(flags, c);
  });
}
