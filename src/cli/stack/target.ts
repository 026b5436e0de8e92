/**
 * Which stack an infra command (synth, diff, deploy, destroy, outputs) is about. Light on purpose:
 * commands resolve this and check credentials before anything heavy (aws-cdk-lib, the toolkit)
 * is loaded, so a bad flag or missing credentials answer at once.
 */
import type { PipelineConfig } from '../../pipeline/config.js';
import { loadEnvironment } from '../configuration.js';
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
 * The environment's configuration (paypipe.config.json merged with the flags, src/cli/config/load.ts)
 * and the region, profile and endpoints from the one resolver every command uses
 * (src/aws/settings.ts): region from the flag, then the file, then AWS_REGION / AWS_DEFAULT_REGION,
 * then the profile's region, then the default. A malformed AWS_ENDPOINT_URL is a usage error here,
 * before anything loads.
 */
export function infraTarget(flags: InfraFlags, env: NodeJS.ProcessEnv = process.env): InfraTarget {
  const { loaded, aws } = loadEnvironment(flags, env);
  return {
    config: loaded.config,
    stackName: loaded.config.stackName,
    region: aws.region,
    profile: aws.profile,
  };
}

/** Key/value lines, aligned; shared by deploy and outputs. */
export function renderOutputs(outputs: Readonly<Record<string, string>>, style: Style): string {
  const keys = Object.keys(outputs).sort();
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `  ${style.cyan(k.padEnd(width))}  ${outputs[k]}`).join('\n');
}
