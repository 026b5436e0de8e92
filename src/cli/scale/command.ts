/**
 * `paypipe scale`: flags and help only; the Kinesis calls load inside the action (./scale.ts).
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { addTargetOptions, ioFor } from '../options.js';
import type { ScaleFlags } from './flags.js';

const parseShards = (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1 || n > 10_000) {
    throw usageError(`--shards must be a whole number from 1 to 10000, got "${v}"`);
  }
  return n;
};

export function register(program: Command): void {
  const cmd = program
    .command('scale')
    .description(
      "Show or change the input stream's capacity: shard count (UpdateShardCount) or on-demand mode.",
    )
    .option('--shards <n>', 'provisioned mode with this many shards (uniform resharding)', parseShards)
    .option('--on-demand', 'switch to on-demand capacity (Kinesis scales it; billed per GB)')
    .option('--no-wait', 'return once the change is accepted, without waiting for the stream to be ACTIVE');
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Each shard takes 1,000 records/s and 1 MiB/s of writes; \`paypipe doctor\` says how close the input
is to that. Resharding keeps the stream readable and writable; it takes a few minutes (the command
shows progress until the stream is ACTIVE again). UpdateShardCount can at most double or halve the
shards in one call and is limited to 10 calls a day per stream; a mode switch once a day.
The configuration stays the source of truth: the next \`paypipe deploy\` restores shardCount and
capacityMode from paypipe.config.json, so set them there to keep the change.
The local stream has no write limits (kinesalite never throttles): locally scale only shows.

Examples:
  $ paypipe scale                      # the current capacity
  $ paypipe scale --shards 4 --env prod
  $ paypipe scale --on-demand --env prod`,
  );
  cmd.action(async (flags: ScaleFlags, c: Command) => {
    const io = ioFor(c);
    const { runScale, renderScale } = await import('./scale.js');
    io.result(await runScale(flags, io), renderScale);
  });
}
