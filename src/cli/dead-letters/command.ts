/**
 * `paypipe dead-letters`: flags and help only; the listing (src/cli/dead-letters/dead-letters.ts) and the SDK
 * load inside the action.
 */
import type { Command } from 'commander';
import { addTargetOptions, durationFlag, intFlag, ioFor, type TargetFlags } from '../options.js';

export interface DeadLetterFlags extends TargetFlags {
  last: number;
  limit: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('dead-letters')
    .description(
      'List what the aggregator set aside: bad records (with their reasons) and batches it gave up on.',
    )
    .option(
      '--last <duration>',
      'how far back to look, by arrival hour (1h to 31d)',
      durationFlag('--last', 3_600_000, 31 * 86_400_000),
      24 * 3_600_000,
    )
    .option('--limit <n>', 'bad records to show at most, 1 to 100,000', intFlag('--limit', 1, 100_000), 50);
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Bad records (not JSON, unknown currency, too many decimals, …) never block a shard: the aggregator writes
each batch's bad records to one object under dead-letters/year=…/hour=HH/ in the analytics bucket, with the
reason, shard, sequence number and the original bytes (base64). Batches the aggregator could not process
after its bounded retries go to the on-failure destination: an SQS queue on AWS (its depth is shown; the
messages are left in place), a file in the data directory locally (each listed with its shard and sequence
range, so the records can be re-read from the stream).

Examples:
  $ paypipe dead-letters --local               # the local pipeline's bad records and failed batches
  $ paypipe dead-letters --last 7d --json      # one JSON document for scripts
  $ paypipe dead-letters --env prod --limit 500`,
  );
  cmd.action(async (flags: DeadLetterFlags, command: Command) => {
    const io = ioFor(command);
    const { runDeadLetters, renderDeadLetters } = await import('./dead-letters.js');
    io.result(await runDeadLetters(flags, io), renderDeadLetters);
  });
}
