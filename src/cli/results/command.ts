/**
 * `paypipe results`: flags and help only; listing, downloading and merging (src/cli/results/results.ts)
 * and the SDK load inside the action.
 */
import type { Command } from 'commander';
import { addTargetOptions, choiceFlag, durationFlag, intFlag, type TargetFlags } from '../options.js';

export interface ResultsFlags extends TargetFlags {
  date?: string;
  hour?: number;
  from?: string;
  to?: string;
  last?: number;
  format?: 'table' | 'json' | 'ndjson' | 'csv';
  files?: boolean;
  raw?: boolean;
  strict?: boolean;
  verify?: string;
  bucket?: string;
  concurrency?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('results')
    .description('Read the aggregation files from S3, merge them per minute and currency, and show them.')
    .option('--date <YYYY-MM-DD>', 'a UTC day (with --hour: one hour of it)')
    .option('--hour <H>', 'a UTC hour, 0 to 23 (alone: that hour today)', intFlag('--hour', 0, 23))
    .option('--from <time>', 'start, a UTC ISO time like 2024-01-15T10:00Z')
    .option('--to <time>', 'end (exclusive), a UTC ISO time (default: now)')
    .option(
      '--last <duration>',
      'the last 30m, 2h, 1d … (1m to 31d; default 1h)',
      durationFlag('--last', 60_000, 31 * 86_400_000),
    )
    .option(
      '--format <format>',
      'table, json, ndjson or csv (default table)',
      choiceFlag('--format', ['table', 'json', 'ndjson', 'csv'] as const),
    )
    .option('--files', 'list the objects read, with sizes and record counts, instead of the aggregates')
    .option('--raw', 'decode the raw events under data/ instead (summary per currency and minute)')
    .option(
      '--verify <summary.json>',
      'compare the totals with a `paypipe send --json` summary; exit 1 on mismatch',
    )
    .option('--strict', 'exit 1 when any object is damaged or any record is invalid')
    .option('--bucket <name>', 'bucket to read (default: the analytics bucket, or the raw bucket with --raw)')
    .option('--concurrency <n>', 'downloads in flight, 1 to 64', intFlag('--concurrency', 1, 64), 16);
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Firehose writes objects by ARRIVAL hour (aggregations/year=…/month=…/day=…/hour=HH/), so the aggregate of
window 10:59 may sit in hour=11: results reads the hours the range covers plus the next one and keeps the
windows that overlap the range. Objects are listed page by page, downloaded in parallel, gunzipped and
decoded as they stream in (NDJSON or concatenated JSON), and merged per (window, currency) with each
aggregate id counted once, so re-delivered aggregates never double-count. Amounts are exact.

A damaged object (empty, truncated or corrupt gzip, not JSON) is reported by key with the records that
were salvaged, and the run goes on; --strict makes that exit 1. Objects S3 will not serve after retries
are reported and make the exit status 1 (the results are incomplete).

--verify SUMMARY.json compares per-currency counts and totals with what \`paypipe send --json\` sent;
without a range flag it reads the windows the summary's events fall in. It is exact only when that send
was the only traffic in those windows (disable the producer schedule first: paypipe schedule disable).

Examples:
  $ paypipe results --local                          # the last hour, local pipeline
  $ paypipe results --date 2024-01-15 --hour 10      # one hour
  $ paypipe results --hour 10                        # 10:00-11:00 UTC today
  $ paypipe results --from 2024-01-15T10:30Z --to 2024-01-15T12:00Z --format csv > out.csv
  $ paypipe results --last 30m --json | jq '.byCurrency'
  $ paypipe results --last 2h --files                # which objects, how big, how many records
  $ paypipe results --raw --last 10m                 # the raw events instead
  $ paypipe send --count 1000 --json > sent.json && paypipe results --verify sent.json`,
  );
  cmd.action(async (flags: ResultsFlags, c: Command) => {
    const { resultsCommand } = await import('./results.js');
    await resultsCommand(flags, c);
  });
}
