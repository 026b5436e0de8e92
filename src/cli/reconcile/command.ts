/**
 * `paypipe reconcile`: flags and help only; the accounting runs in the action
 * (src/cli/reconcile/reconcile.ts).
 */
import type { Command } from 'commander';
import { addRangeOptions, addTargetOptions, ioFor } from '../options.js';
import type { ReconcileFlags } from './flags.js';

const YEAR_MS = 366 * 86_400_000;

export function register(program: Command): void {
  const cmd = program
    .command('reconcile')
    .description(
      'Account for every raw event: counted in an aggregate, a dead letter, or missing; exit 1 if not.',
    );
  addRangeOptions(cmd, { maxAgoMs: YEAR_MS })
    .option('--workgroup <name>', 'Athena workgroup (default: the stack output AthenaWorkGroupName)')
    .option('--database <name>', 'Glue database (default: the stack output GlueDatabaseName)');
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Over the range, every record in the raw archive must be in exactly one place: a dead letter (its bytes
equal to the dead letter's data_base64, with the reason), counted in the merged aggregates, or reported
as missing. Per (window, currency) the raw count and total of the counted records must equal the merged
aggregates (the merge rule of \`results\`). Duplicate transaction_ids are listed with their effect on
the totals (the pipeline counts every copy). The same SQL runs in Athena on AWS and in the embedded
DuckDB with --local. Exit 1 when the identity fails; the report says where (window, currency, shard
and sequence range, the records). The last windows may still be in the Firehose buffer (60 s by
default): a window closed less than that ago that is short of records is listed as not there yet,
not as a failure.

Examples:
  $ paypipe reconcile --local
  $ paypipe reconcile --since 2024-11-01T00:00Z --until 2024-11-02T00:00Z --env prod
  $ paypipe reconcile --local --since 2h --json`,
  );
  cmd.action(async (flags: ReconcileFlags, command: Command) => {
    const io = ioFor(command);
    const { runReconcile, renderReconcile, failureOf } = await import('./reconcile.js');
    const report = await runReconcile(flags, io);
    io.result(report, renderReconcile);
    const failure = failureOf(report, flags);
    if (failure !== undefined) throw failure;
  });
}
