/**
 * `paypipe doctor [--probe]`: flags and help only; the checks (src/cli/doctor/) and the
 * SDK load when the command runs.
 */
import type { Command } from 'commander';
import { addTargetOptions, durationFlag } from '../options.js';
import type { DoctorFlags } from './flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'Check that the pipeline is healthy, and if not, why and what to do (AWS, or the local pipeline with --local).',
    )
    .option('--probe', 'also send one canary event and time it through every hop to S3')
    .option(
      '--timeout <duration>',
      'how long the probe waits (default 5m on AWS, 60s locally)',
      durationFlag('--timeout', 1000, 3_600_000),
    )
    .option(
      '--max-lag <duration>',
      'consumer lag above this fails (default 5 windows, at least 5m)',
      durationFlag('--max-lag', 1000, 7 * 86_400_000),
    )
    .option(
      '--stale-after <duration>',
      'newest S3 object older than this fails freshness (default: schedule + buffer + 1m)',
      durationFlag('--stale-after', 1000, 7 * 86_400_000),
    );
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Each check prints pass, warn, fail or n/a (no meaning for this target) with one line of evidence,
and for anything not passing, the fix. Exit status 1 when any check fails; --json prints the report.

On AWS: credentials and region, the stack, both Kinesis streams and Firehose delivery streams, the
aggregator's event source mapping linted against the configuration (state, last result, bisect,
bounded retries and record age, on-failure destination, partial batch responses, batch size and
window), the failure queue, dead letters of the last hour, iterator age, errors and throttles of the
last 15 minutes, freshness of data/ and aggregations/, and the producer schedule.

--probe sends one event with transaction_id CANARY-<uuid> in XPF (a currency the producer never
uses) and reports the latency to the raw bucket, the output stream and the analytics bucket, or
where it got stuck.

Examples:
  $ paypipe doctor                        # the dev stack in ap-southeast-2
  $ paypipe doctor --env prod --probe     # end to end, with hop latencies
  $ paypipe doctor --local --probe        # the pipeline started by \`paypipe up\`
  $ paypipe doctor --json | jq '.checks[] | select(.status != "pass")'`,
  );
  cmd.action(async (flags: DoctorFlags, c: Command) => {
    const { doctorCommand } = await import('./run.js');
    await doctorCommand(flags, c);
  });
}
