/** `paypipe diff`: flags and help; aws-cdk-lib and the CDK toolkit load lazily in the action. */
import type { DiffFlags } from './diff.js';
import { type Command, Option } from 'commander';
import { ioFor } from '../options.js';

export function register(program: Command): void {
  program
    .command('diff')
    .description('Show what `paypipe deploy` would change in the deployed stack')
    .addOption(new Option('--env <name>', 'environment; the stack is <project>-<env>').default('dev'))
    .option('--project <name>', 'project name', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: AWS_PROFILE or the SDK credential chain)')
    .option('--fail', 'exit 1 when there are differences')
    .addHelpText(
      'after',
      `
Compares the synthesized template with the deployed one (read-only; no change set is created).

Examples:
  $ paypipe diff
  $ paypipe diff --env prod --region eu-west-1 --fail   # CI drift gate
  $ paypipe diff --json | jq '.resources[] | select(.change == "remove")'`,
    )
    .action(async (opts: DiffFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runDiff, renderDiff, failOnDifferences } = await import('./diff.js');
      const result = await runDiff(io, opts);
      io.result(result, renderDiff);
      if (opts.fail === true) failOnDifferences(result);
    });
}
