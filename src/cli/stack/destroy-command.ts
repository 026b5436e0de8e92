/** `paypipe destroy`: flags and help; aws-cdk-lib and the CDK toolkit load lazily in the action. */
import type { DestroyFlags } from './destroy.js';
import { type Command, Option } from 'commander';
import { DEFAULT_DATA_DIR, dirFlag, ioFor } from '../options.js';

export function register(program: Command): void {
  program
    .command('destroy')
    .description('Delete the deployed stack (says first what happens to the data)')
    .addOption(new Option('--env <name>', 'environment; the stack is <project>-<env>').default('dev'))
    .option('--project <name>', 'project name', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: AWS_PROFILE or the SDK credential chain)')
    .option('--force', 'do not ask for confirmation (required without a terminal)')
    .option(
      '--data-dir <dir>',
      'where the outputs were remembered (the file is removed)',
      dirFlag('--data-dir'),
      DEFAULT_DATA_DIR,
    )
    .addHelpText(
      'after',
      `
With removal policy "destroy" (the default for --env dev) the buckets are deleted with all their
objects; otherwise (other environments) the buckets and their data are retained.

Examples:
  $ paypipe destroy                       # asks first
  $ paypipe destroy --env dev --force     # scripts and CI`,
    )
    .action(async (opts: DestroyFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runDestroy, renderDestroy } = await import('./destroy.js');
      io.result(await runDestroy(io, opts), renderDestroy);
    });
}
