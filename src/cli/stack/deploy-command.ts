/** `paypipe deploy`: flags and help; aws-cdk-lib and the CDK toolkit load lazily in the action. */
import type { DeployFlags } from './deploy.js';
import { type Command, Option } from 'commander';
import { DEFAULT_DATA_DIR, dirFlag, choiceFlag, ioFor } from '../options.js';

const APPROVALS = ['never', 'broadening'] as const;
const METHODS = ['change-set', 'direct'] as const;

export function register(program: Command): void {
  program
    .command('deploy')
    .description('Deploy the bundled stack (streams, Lambdas, Firehose, buckets) to AWS')
    .addOption(new Option('--env <name>', 'environment; the stack is <project>-<env>').default('dev'))
    .option('--project <name>', 'project name', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or ap-southeast-2)')
    .option('--profile <profile>', 'AWS named profile (default: AWS_PROFILE or the SDK credential chain)')
    .option(
      '--require-approval <when>',
      `ask before IAM-broadening changes: ${APPROVALS.join(' | ')}`,
      choiceFlag('--require-approval', APPROVALS),
      'broadening',
    )
    .option(
      '--method <how>',
      `how CloudFormation applies the template: ${METHODS.join(' | ')} (CreateStack/UpdateStack)`,
      choiceFlag('--method', METHODS),
      'change-set',
    )
    .option('--bootstrap', 'bootstrap CDK in the account/region first (needed once per account and region)')
    .option('--data-dir <dir>', 'where the outputs are remembered', dirFlag('--data-dir'), DEFAULT_DATA_DIR)
    .option(
      '--no-revert-drift',
      'keep changes made outside CloudFormation (default: a drift-aware change set reverts them)',
    )
    .addHelpText(
      'after',
      `
Synthesizes in-process (cdk-nag must pass), deploys through a CloudFormation change set (or
directly with --method direct: CreateStack/UpdateStack, as cdk deploy --method) and prints the
stack outputs, also saved to <data-dir>/outputs-<stack>.json. A stack left without an output
paypipe reads fails the deploy (exit 1, naming the outputs). An existing stack is updated with a
drift-aware change set: what was changed outside CloudFormation (e.g. by \`paypipe schedule\`) is
put back to the configuration (change sets only; --method direct does not revert drift).
IAM-broadening changes are confirmed on a terminal; without one, pass --require-approval never.
Settings come from paypipe.config.json (\`paypipe config --env <name>\` shows them).

Examples:
  $ paypipe deploy --bootstrap                 # first deploy into an account/region
  $ paypipe deploy --env prod --region eu-west-1 --profile prod
  $ paypipe deploy --require-approval never --json   # CI`,
    )
    .action(async (opts: DeployFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runDeploy, renderDeploy } = await import('./deploy.js');
      io.result(await runDeploy(io, opts), renderDeploy);
    });
}
