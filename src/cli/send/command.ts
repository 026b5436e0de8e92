/**
 * `paypipe send`: flags and help only; the generator, the sender and the SDK load inside the
 * action (src/cli/send/send.ts).
 */
import type { Command } from 'commander';
import { addTargetOptions, durationFlag, intFlag, numberFlag } from '../options.js';
import type { SendFlags } from './flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('send')
    .description(
      'Send payment events to the input stream: realistic or test scenarios, paced, retried, nothing lost.',
    )
    .option(
      '-n, --count <n>',
      'events to send, 1 to 10,000,000 (default 100)',
      intFlag('--count', 1, 10_000_000),
    )
    .option(
      '-d, --duration <duration>',
      'send for this long instead of a count (1s to 24h)',
      durationFlag('--duration', 1000, 86_400_000),
    )
    .option(
      '-r, --rate <events/s>',
      'events per second, paced evenly (default: as fast as the stream takes them)',
      numberFlag('--rate', 0.1, 1_000_000),
    )
    .option(
      '--seed <n>',
      'reproduce the same events (ids, amounts, currencies, merchants)',
      intFlag('--seed', 0, 4_294_967_295),
    )
    .option(
      '--scenario <spec>',
      'test traffic: late=…,duplicates=…,malformed=…,currencies=…,merchants=…,late-max=…,span=…, or a preset',
    )
    .option('--from-file <file>', 'replay an NDJSON file of events, one per line ("-" for stdin)')
    .option(
      '--allow-invalid',
      'with --from-file: send lines that are not valid events too (refused when most of the file is)',
    )
    .option(
      '--via-lambda',
      'invoke the deployed producer Lambda with { count } instead (AWS only, up to 100,000)',
    )
    .option('--stream <name>', 'input stream name (default: from the stack outputs / local pipeline)')
    .option('--concurrency <n>', 'PutRecords calls in flight, 1 to 64', intFlag('--concurrency', 1, 64), 8)
    .option(
      '--max-attempts <n>',
      'attempts per event before it counts as unsent, 1 to 20',
      intFlag('--max-attempts', 1, 20),
      8,
    )
    .option(
      '--unsent-file <file>',
      'where events still unsent after retries are written (default: <data-dir>/unsent/paypipe-unsent-<time>.ndjson)',
    );
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Events are generated lazily (memory stays flat for any --count) by the same generator the producer
Lambda uses; each event's event_timestamp is the moment it is sent. They go out in PutRecords
batches (≤ 500 records, ≤ 5 MiB) with bounded concurrency; only the entries a response marks as
failed are retried, with exponential backoff and jitter. On a provisioned AWS stream the send is
paced to the shards' limits (1,000 records/s and 1 MiB/s per shard, from DescribeStreamSummary).

--scenario takes comma-separated key=value pairs, or a preset name followed by overrides:
  late=0.1           share of events 1 minute to late-max in the past (default late-max 10m)
  late-max=30m       how late a late event can be (1m to 24h)
  duplicates=0.05    share of records repeating an earlier event (same transaction_id)
  malformed=0.02     share of records the aggregator must reject (bad JSON, negative amounts, …)
  currencies=USD:0.7+EUR:0.3   currency weights (ISO 4217 codes)
  merchants=Amazon+Uber        merchant names
  span=5m            spread event times over the last 5 minutes
  presets: clean (default), messy (late=0.1,duplicates=0.05,malformed=0.02), late (late=0.3,late-max=30m)

The summary lists sent, retried and failed events, the throughput, and per-currency totals (count and
exact total) of the valid events sent — duplicates included, as the aggregator counts records.
\`--json\` prints it as one document; \`paypipe results --verify <file>\` checks the aggregates against it,
window by window. New aggregates take up to the Firehose buffer interval (60 s by default) to appear.
Events still unsent after retries are written to a file in the data directory (its path is printed)
and the exit status is 1: resend them with --from-file. A --from-file whose lines are mostly not
events (checked on the first 1,000 lines, before anything is sent) is refused unless --allow-invalid.

Examples:
  $ paypipe send --local --count 500                     # a burst into the local pipeline
  $ paypipe send --count 100000 --seed 42 --json > sent.json
  $ paypipe results --local --verify sent.json           # do the aggregates match?
  $ paypipe send --duration 10m --rate 50                # steady traffic, 50 events/s
  $ paypipe send --count 5000 --scenario messy,currencies=USD:0.7+EUR:0.3
  $ paypipe send --from-file .paypipe/unsent/paypipe-unsent-2024-01-15T10-30-00-000Z.ndjson
  $ paypipe send --via-lambda --count 1000 --env prod    # through the deployed producer`,
  );
  cmd.action(async (flags: SendFlags, c: Command) => {
    const { sendCommand } = await import('./send.js');
    await sendCommand(flags, c);
  });
}
