/** `paypipe synth`: flags and help; the implementation (aws-cdk-lib, toolkit) loads lazily. */
import type { SynthFlags } from './synth.js';
import { type Command, Option } from 'commander';
import { ioFor } from '../options.js';

export function register(program: Command): void {
  program
    .command('synth')
    .description('Write the CloudFormation template and bundled Lambda code of the stack (offline)')
    .option('--out <dir>', 'cloud assembly directory', 'cdk.out')
    .addOption(new Option('--env <name>', 'environment; the stack is <project>-<env>').default('dev'))
    .option('--project <name>', 'project name', 'paypipe')
    .option('--region <region>', 'AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or ap-southeast-2)')
    .addHelpText(
      'after',
      `
Synthesis runs in-process and offline (no AWS credentials, no lookups). It fails when cdk-nag
(AwsSolutions) reports a finding that is neither fixed nor acknowledged with a reason.

Examples:
  $ paypipe synth                          # cdk.out/paypipe-dev.template.json
  $ paypipe synth --env prod --region eu-west-1 --out build/cdk
  $ paypipe synth --json                   # { "templatePath", "outdir", "stackName", "region" }`,
    )
    .action(async (opts: SynthFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runSynth } = await import('./synth.js');
      const result = await runSynth(io, opts);
      io.result(result, (r) => r.templatePath);
    });
}
