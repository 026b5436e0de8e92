/**
 * `paypipe results`: flags and help only; listing, downloading and merging (src/cli/results/results.ts)
 * and the SDK load inside the action.
 */
import { type Command, Option } from 'commander';
import {
  addRangeOptions,
  addTargetOptions,
  choiceFlag,
  durationFlag,
  intFlag,
  whenFlag,
} from '../options.js';
import type { ResultsFlags } from './flags.js';

const MONTH_MS = 31 * 86_400_000;

export function register(program: Command): void {
  const cmd = program
    .command('results')
    .description('Read the aggregation files from S3, merge them per minute and currency, and show them.');
  addRangeOptions(cmd, { maxAgoMs: MONTH_MS })
    .option('--date <YYYY-MM-DD>', 'a UTC day (with --hour: one hour of it)')
    .option('--hour <H>', 'a UTC hour, 0 to 23 (alone: that hour today)', intFlag('--hour', 0, 23))
    .addOption(
      new Option('--last <duration>')
        .argParser(whenFlag('--last', { durationOnly: true, minAgoMs: 60_000, maxAgoMs: MONTH_MS }))
        .hideHelp(),
    )
    .addOption(
      new Option('--from <when>')
        .argParser(whenFlag('--from', { now: false, maxAgoMs: MONTH_MS }))
        .hideHelp(),
    )
    .addOption(new Option('--to <when>').argParser(whenFlag('--to', { maxAgoMs: MONTH_MS })).hideHelp())
    .option(
      '--format <format>',
      'table, json, ndjson or csv (default table)',
      choiceFlag('--format', ['table', 'json', 'ndjson', 'csv'] as const),
    )
    .option('--files', 'list the objects read, with sizes and record counts, instead of the aggregates')
    .option('--raw', 'decode the raw events under data/ instead (summary per currency and minute)')
    .option(
      '--verify <summary.json>',
      'compare with a `paypipe send --json` summary, window by window; exit 1 unless it matches',
    )
    .addOption(
      new Option(
        '--wait <duration>',
        'with --verify: while aggregates may still be in flight, read again until they match, up to this long',
      ).argParser(durationFlag('--wait', 1000, 3_600_000)),
    )
    .option(
      '--strict',
      'exit 1 when the totals are incomplete (batch outputs with no disjoint chain, conflicts) or a record is invalid',
    )
    .option('--allow-damaged', 'count what can be salvaged from damaged objects and exit 0 (default: exit 1)')
    .option('--bucket <name>', 'bucket to read (default: the analytics bucket, or the raw bucket with --raw)')
    .option('--concurrency <n>', 'downloads in flight, 1 to 64', intFlag('--concurrency', 1, 64), 16);
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Firehose writes objects by ARRIVAL hour (aggregations/year=…/month=…/day=…/hour=HH/), so the aggregate of
window 10:59 may sit in hour=11: results reads the hours the range covers plus the next one and keeps the
windows that overlap the range. Objects are listed page by page, downloaded in parallel, gunzipped and
decoded as they stream in (NDJSON or concatenated JSON), and merged per (window, currency): per input
shard, a chain of complete batch outputs that do not overlap, so retried, bisected and re-delivered
batches never double-count (docs/windowing.md). Amounts are exact.

A damaged object (empty, truncated or corrupt gzip, not gzip under a .gz key, not JSON, a line longer
than any record) is reported by key with the records that were salvaged, the totals are marked
incomplete and the exit status is 1; --allow-damaged accepts it (exit 0). Where no chain of batch
outputs covers a shard's records, the shard and sequence range are named and the totals marked
incomplete; --strict makes that exit 1. Objects S3 will not serve after retries are reported and make
the exit status 1.

--verify SUMMARY.json compares with what \`paypipe send --json\` sent, window by window over the
summary's windows (without a time flag it reads just those). A window with fewer payments than sent
while its aggregates may still be in the Firehose buffer (up to its interval, 60 s by default) is
reported as not there yet, not as a mismatch: run it again, or --wait until they arrive. A window with
more payments than sent means other traffic in that minute: verify is exact only for a send that had
its windows to itself (stop the producer first: \`paypipe schedule --disable\`, or \`paypipe up --no-schedule\`).

Times: --since/--until take a duration ago (30m, 2h, 1d) or a UTC time (2024-01-15T10:30Z; a date
alone is midnight UTC; without a zone it is UTC); --until also takes now, its default.
--date/--hour pick whole UTC days and hours.

Examples:
  $ paypipe results --local                          # the last hour, local pipeline
  $ paypipe results --date 2024-01-15 --hour 10      # one hour
  $ paypipe results --hour 10                        # 10:00-11:00 UTC today
  $ paypipe results --since 2024-01-15T10:30Z --until 2024-01-15T12:00Z --format csv > out.csv
  $ paypipe results --since 30m --json | jq '.byCurrency'
  $ paypipe results --since 2h --files               # which objects, how big, how many records
  $ paypipe results --raw --since 10m                # the raw events instead
  $ paypipe send --count 1000 --json > sent.json && paypipe results --verify sent.json --wait 2m`,
  );
  cmd.action(async (flags: ResultsFlags, c: Command) => {
    const { resultsCommand } = await import('./results.js');
    await resultsCommand(flags, c);
  });
}
