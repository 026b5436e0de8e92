/**
 * Which stack an infra command (synth, diff, deploy, destroy, outputs) is about. Light on purpose:
 * commands resolve this and check credentials before anything heavy (aws-cdk-lib, the toolkit)
 * is loaded, so a bad flag or missing credentials answer at once.
 */
import { DEFAULT_REGION, type PipelineConfig, resolveConfig } from '../../pipeline/config.js';
import type { Style } from '../io.js';

/** Flags shared by synth, diff, deploy, destroy and outputs. */
export interface InfraFlags {
  env?: string;
  project?: string;
  region?: string;
  profile?: string;
}

export interface InfraTarget {
  config: PipelineConfig;
  stackName: string;
  region: string;
  profile: string | undefined;
}

/**
 * Config and region resolved the same way the data-path commands do (src/cli/target.ts): flag,
 * then AWS_REGION / AWS_DEFAULT_REGION, then the pipeline default.
 */
export function infraTarget(flags: InfraFlags, env: NodeJS.ProcessEnv = process.env): InfraTarget {
  const region =
    flags.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION;
  const config = resolveConfig({
    ...(flags.project === undefined ? {} : { project: flags.project }),
    ...(flags.env === undefined ? {} : { environment: flags.env }),
    region,
  });
  return {
    config,
    stackName: config.stackName,
    region: config.region,
    profile: flags.profile ?? nonEmpty(env.AWS_PROFILE),
  };
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

/** Key/value lines, aligned; shared by deploy and outputs. */
export function renderOutputs(outputs: Readonly<Record<string, string>>, style: Style): string {
  const keys = Object.keys(outputs).sort();
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `  ${style.cyan(k.padEnd(width))}  ${outputs[k]}`).join('\n');
}
