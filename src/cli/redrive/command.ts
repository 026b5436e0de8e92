/**
 * `paypipe redrive`: flags and help only; the SQS/Kinesis code and the aggregator's handler load
 * inside the action (src/cli/redrive/redrive.ts).
 */
import type { Command } from 'commander';
import { addTargetOptions, ioFor } from '../options.js';
import type { RedriveFlags } from './flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('redrive')
    .description(
      'Replay the batches the aggregator gave up on, from the input stream, through the aggregator (idempotent).',
    )
    .option('--dry-run', 'only say what would be replayed (nothing is written, nothing is removed)');
  addTargetOptions(cmd);
  cmd.addHelpText(
    'after',
    `
A batch the aggregator could not process (retries or record age used up) goes to the failure
destination with its shard, sequence range and arrival times: the SQS queue on AWS, a file in the
data directory locally. redrive reads each batch back from the input stream — whole, exactly the
failed range — and runs it through the aggregator's code, which writes one batch output for exactly
that range; whatever the failed attempts got into S3 is not counted twice (running redrive twice is
harmless). Replayed batches are removed from the queue (marked as replayed locally); the others stay.
A batch the stream no longer holds (older than its retention) is reported with where its raw copies
are in the raw bucket (data/…/hour=HH/), to reconcile from there.

On AWS it needs: sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the failure
queue; kinesis:DescribeStreamSummary, kinesis:GetShardIterator and kinesis:GetRecords on the input
stream; kinesis:PutRecords on the output stream; s3:PutObject on the analytics bucket's dead-letters/
(and kms:Decrypt / kms:GenerateDataKey on the environment's key when it has one).

Examples:
  $ paypipe redrive --dry-run               # what is pending and whether the stream still has it
  $ paypipe redrive --env prod
  $ paypipe redrive --local --json`,
  );
  cmd.action(async (flags: RedriveFlags, c: Command) => {
    const io = ioFor(c);
    const { runRedrive, renderRedrive, failedRedriveError } = await import('./redrive.js');
    const result = await runRedrive(flags, io);
    io.result(result, renderRedrive);
    const err = failedRedriveError(result);
    if (err !== undefined) throw err;
  });
}
