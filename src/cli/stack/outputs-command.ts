/** `paypipe outputs`: flags and help; the SDK loads lazily inside the action. */
import type { OutputsFlags } from './outputs.js';
import { type Command, Option } from 'commander';
import { DEFAULT_DATA_DIR, dirFlag, ioFor } from '../options.js';

export function register(program: Command): void {
  program
    .command('outputs')
    .description("Print the deployed stack's outputs (stream, bucket, function and queue names)")
    .addOption(
      new Option('--env <name>', 'deployed environment; the stack is <project>-<env>').default('dev'),
    )
    .option('--project <name>', 'project name', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: AWS_PROFILE or the SDK credential chain)')
    .option('--stack <name>', 'CloudFormation stack name (default: <project>-<env>)')
    .option('--data-dir <dir>', 'where the outputs are remembered', dirFlag('--data-dir'), DEFAULT_DATA_DIR)
    .addHelpText(
      'after',
      `
Reads CloudFormation DescribeStacks and refreshes <data-dir>/outputs-<stack>.json.

Examples:
  $ paypipe outputs
  $ paypipe outputs --env prod --region eu-west-1
  $ paypipe outputs --json | jq -r .outputs.AnalyticsBucketName`,
    )
    .action(async (opts: OutputsFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runOutputs, renderStackOutputs } = await import('./outputs.js');
      io.result(await runOutputs(io, opts), renderStackOutputs);
    });
}
