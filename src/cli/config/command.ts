/** `paypipe config`: flags and help; the loader and zod load lazily in the action. */
import { type Command, Option } from 'commander';
import { ioFor } from '../options.js';
import type { ConfigFlags } from './flags.js';

export function register(program: Command): void {
  program
    .command('config')
    .description('Show the effective configuration of an environment and where each value comes from')
    .addOption(new Option('--env <name>', 'environment').default('dev'))
    .option('--project <name>', 'project name (default: the file, else paypipe)')
    .option(
      '--region <region>',
      'AWS region (default: the file, then AWS_REGION, AWS_DEFAULT_REGION, ap-southeast-2)',
    )
    .option('--schema', 'print the JSON Schema of paypipe.config.json instead')
    .addHelpText(
      'after',
      `
Settings come from paypipe.config.json in the current directory (or --config FILE / PAYPIPE_CONFIG):
"defaults" for every environment and one section per environment under "environments". For each
setting the most specific layer wins, and values are never merged: a flag, then the environment's
section, then the file's defaults, then AWS_REGION / AWS_DEFAULT_REGION (region only), then the
built-in defaults (production-grade; dev is disposable: no KMS key, no termination protection,
buckets deleted on destroy, 24 h stream retention). The stack, the local pipeline and doctor all
read this same resolved configuration.

Examples:
  $ paypipe config                         # dev
  $ paypipe config --env prod --json | jq '.settings.retentionHours'
  $ paypipe config --schema > paypipe.config.schema.json`,
    )
    .action(async (opts: ConfigFlags, cmd: Command) => {
      const io = ioFor(cmd);
      const { runConfig, renderConfig } = await import('./config.js');
      if (opts.schema === true) {
        const { configJsonSchema } = await import('../../pipeline/config-file.js');
        io.result(configJsonSchema(), (s) => JSON.stringify(s, null, 2));
        return;
      }
      io.result(runConfig(opts), renderConfig);
    });
}
