/**
 * `paypipe demo`: flags and help only; the implementation (src/cli/local/demo.ts, with the SDK and
 * the local servers) is loaded when the command runs.
 */
import { type Command, Option } from 'commander';
import { assemblyFlag, durationFlag, intFlag, ioFor } from '../options.js';

interface DemoFlags {
  keep?: boolean;
  count: number;
  seed: number;
  span: number;
  malformed: number;
  timeout: number;
  assembly?: string;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the whole pipeline on this machine (no AWS account): send a burst of payments through local ' +
        'Kinesis → aggregator → Firehose → S3, then print the per-minute aggregates and check the totals.',
    )
    .option('-n, --count <n>', 'payments to send', intFlag('--count', 1, 100_000), 2000)
    .option(
      '--seed <n>',
      'generator seed (same seed → same payments and the same table)',
      intFlag('--seed', 0, 2 ** 31 - 1),
      42,
    )
    .addOption(
      new Option('--span <duration>', 'spread event times over this long before now')
        .argParser(durationFlag('--span', 60_000, 3_600_000))
        .default(300_000, '5m'),
    )
    .option(
      '--malformed <n>',
      'malformed records mixed in (they go to the dead-letter store)',
      intFlag('--malformed', 0, 1000),
      5,
    )
    .option('--keep', 'keep the data directory afterwards and print where it is')
    .option(
      '--assembly <dir>',
      'run the functions from this cloud assembly (`paypipe synth --out <dir>`) instead of a fresh synthesis of this checkout',
      assemblyFlag('--assembly'),
    )
    .addOption(
      new Option('--timeout <duration>', 'give up waiting for the aggregates after')
        .argParser(durationFlag('--timeout', 5000, 600_000))
        .default(60_000, '60s'),
    )
    .addHelpText(
      'after',
      `
The pipeline runs in a temporary data directory with real Kinesis and S3 API servers (kinesalite,
s3rver) and the functions' deployment bundles (the stack synthesized from this checkout, cached until
a source changes; the first run after a change takes some seconds longer); Firehose buffers for 1 s instead of 60 s. Exit status
is 1 when the aggregates in S3 do not add up to what was sent.

Examples:
  $ paypipe demo                     # 2,000 payments over the last 5 minutes, seed 42
  $ paypipe demo --count 10000 --seed 7
  $ paypipe demo --keep              # keep the data dir; inspect it with \`paypipe up --data-dir …\`
  $ paypipe demo --json | jq .checks`,
    )
    .action(async (flags: DemoFlags, cmd: Command) => {
      const { demoCommand } = await import('./demo.js');
      await demoCommand(
        {
          count: flags.count,
          seed: flags.seed,
          spanMs: flags.span,
          malformed: flags.malformed,
          keep: flags.keep === true,
          timeoutMs: flags.timeout,
          ...(flags.assembly === undefined ? {} : { assembly: flags.assembly }),
        },
        ioFor(cmd),
      );
    });
}
