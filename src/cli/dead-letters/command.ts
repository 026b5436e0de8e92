/**
 * `paypipe dead-letters`: flags and help only; the listing (src/cli/dead-letters/dead-letters.ts) and the SDK
 * load inside the action.
 */
import { type Command, Option } from 'commander';
import { implicitWhen } from '../../pipeline/time-range.js';
import { addTargetOptions, intFlag, ioFor, type WhenFlagOptions, whenFlag, whenHelp } from '../options.js';
import type { DeadLetterFlags } from './flags.js';

const MONTH_MS = 31 * 86_400_000;

/** How far back: `now` would look back no time at all and is not taken. */
const SINCE: WhenFlagOptions = { now: false, maxAgoMs: MONTH_MS };

export function register(program: Command): void {
  const cmd = program
    .command('dead-letters')
    .description(
      'List what the aggregator set aside: bad records (with their reasons) and batches it gave up on.',
    )
    .addOption(
      new Option(
        '--since <when>',
        whenHelp('how far back to look', SINCE, '(at most 31d ago; whole arrival hours are read)'),
      )
        .argParser(whenFlag('--since', SINCE))
        .default(implicitWhen('--since', '24h'), '24h'),
    )
    .addOption(
      new Option('-n, --count <n>', 'bad records to show at most, 1 to 100,000 (default: 50)').argParser(
        intFlag('--count', 1, 100_000),
      ),
    )
    .addOption(
      new Option('--last <duration>')
        .argParser(whenFlag('--last', { durationOnly: true, maxAgoMs: MONTH_MS }))
        .hideHelp(),
    )
    .addOption(new Option('--limit <n>').argParser(intFlag('--limit', 1, 100_000)).hideHelp());
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
  $ paypipe dead-letters --since 7d --json     # one JSON document for scripts
  $ paypipe dead-letters --env prod -n 500`,
  );
  cmd.action(async (flags: DeadLetterFlags, command: Command) => {
    const io = ioFor(command);
    const { runDeadLetters, renderDeadLetters } = await import('./dead-letters.js');
    io.result(await runDeadLetters(flags, io), renderDeadLetters);
  });
}
