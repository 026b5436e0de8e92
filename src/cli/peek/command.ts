/**
 * `paypipe peek`: flags and help only; the stream reader and the SDK load inside the action
 * (src/cli/peek/peek.ts).
 */
import type { Command } from 'commander';
import { addTargetOptions, choiceFlag, durationFlag, intFlag, type TargetFlags } from '../options.js';

export interface PeekFlags extends TargetFlags {
  stream: string;
  at?: string;
  since?: number;
  from?: 'trim-horizon' | 'latest';
  follow?: boolean;
  limit?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('peek')
    .description('Read the input or output Kinesis stream across all shards, decoded and pretty-printed.')
    .option('--stream <stream>', 'input, output, or a stream name', 'input')
    .option('--at <time>', 'start at this UTC ISO time (e.g. 2024-01-15T10:30Z)')
    .option(
      '--since <duration>',
      'start this long ago: 30s, 5m, 2h (default 5m)',
      durationFlag('--since', 1000, 7 * 86_400_000),
    )
    .option(
      '--from <position>',
      'trim-horizon (oldest kept) or latest (only new records)',
      choiceFlag('--from', ['trim-horizon', 'latest'] as const),
    )
    .option('-f, --follow', 'keep reading new records until Ctrl-C')
    .option(
      '-n, --limit <n>',
      'stop after n records, 1 to 1,000,000 (default 100 unless --follow)',
      intFlag('--limit', 1, 1_000_000),
    );
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
  $ paypipe peek --stream output --follow       # aggregates as the aggregator emits them
  $ paypipe peek --from trim-horizon --limit 10
  $ paypipe peek --at 2024-01-15T10:30Z --limit 1000 --json | jq -c .data`,
  );
  cmd.action(async (flags: PeekFlags, c: Command) => {
    const { peekCommand } = await import('./peek.js');
    await peekCommand(flags, c);
  });
}
