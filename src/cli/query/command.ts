/**
 * `paypipe query`: flags and help only; the SQL, the engines and the SDK load inside the action
 * (src/cli/query/query.ts).
 */
import type { Command } from 'commander';
import { addRangeOptions, addTargetOptions, choiceFlag, ioFor } from '../options.js';
import type { QueryFlags } from './flags.js';

const YEAR_MS = 366 * 86_400_000;

export function register(program: Command): void {
  const cmd = program
    .command('query')
    .description('Ask the archive in SQL: merged totals, undecided windows, duplicates, or your own query.')
    .option('--totals', 'merged totals per currency over the range (the default)')
    .option('--windows', 'merged aggregates per (window, currency) over the range, like `results`')
    .option('--undecided', 'where the merge rule cannot decide: gaps, ambiguous chains, conflicting copies')
    .option('--duplicates', 'transaction_ids sent more than once, with their effect on the totals')
    .option('--sql <statement>', 'any SQL over raw_events, raw_lines, batch_outputs, dead_letters');
  addRangeOptions(cmd, { maxAgoMs: YEAR_MS })
    .option(
      '--format <format>',
      'table, json or csv (default table)',
      choiceFlag('--format', ['table', 'json', 'csv'] as const),
    )
    .option('--workgroup <name>', 'Athena workgroup (default: the stack output AthenaWorkGroupName)')
    .option('--database <name>', 'Glue database (default: the stack output GlueDatabaseName)');
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
On AWS the query runs in Athena, in the stack's workgroup (its encrypted results location and
per-query scan limit apply); progress shows the bytes scanned and the cost at $5 per TB, and Ctrl-C
stops the query. With --local it runs in an embedded DuckDB over the local pipeline's objects, with
the same table names, so the same SQL answers in both places. The canned questions use the merge
rule of \`results\` in SQL (docs/query.md); --sql runs anything else.

Examples:
  $ paypipe query --local                               # merged totals per currency, last hour
  $ paypipe query --windows --since 2024-11-01T00:00Z --until 2024-12-01T00:00Z --format csv
  $ paypipe query --undecided --since 1d
  $ paypipe query --duplicates --local --since 2h
  $ paypipe query --local --sql "SELECT currency, count(*) AS n FROM raw_events GROUP BY currency"`,
  );
  cmd.action(async (flags: QueryFlags, command: Command) => {
    const io = ioFor(command);
    const { runQuery, printQuery } = await import('./query.js');
    printQuery(await runQuery(flags, io), io, flags.format);
  });
}
