/**
 * Which stack an infra command (synth, diff, deploy, destroy, outputs) is about. Light on purpose:
 * commands resolve this and check credentials before anything heavy (aws-cdk-lib, the toolkit)
 * is loaded, so a bad flag or missing credentials answer at once.
 */
import { resolveAwsSettings } from '../../aws/settings.js';
import { type PipelineConfig, resolveConfig } from '../../pipeline/config.js';
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
 * Config, region and profile from the one resolver every command uses (src/aws/settings.ts):
 * flag > AWS_REGION > AWS_DEFAULT_REGION > the profile's region > default. Endpoints are checked
 * here too (a malformed AWS_ENDPOINT_URL is a usage error before anything loads); the clients
 * resolve them again the same way.
 */
export function infraTarget(flags: InfraFlags, env: NodeJS.ProcessEnv = process.env): InfraTarget {
  const aws = resolveAwsSettings(flags, env);
  const region = aws.region;
  const config = resolveConfig({
    ...(flags.project === undefined ? {} : { project: flags.project }),
    ...(flags.env === undefined ? {} : { environment: flags.env }),
    region,
  });
  return {
    config,
    stackName: config.stackName,
    region: config.region,
    profile: aws.profile,
  };
}

/** Key/value lines, aligned; shared by deploy and outputs. */
export function renderOutputs(outputs: Readonly<Record<string, string>>, style: Style): string {
  const keys = Object.keys(outputs).sort();
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `  ${style.cyan(k.padEnd(width))}  ${outputs[k]}`).join('\n');
}
