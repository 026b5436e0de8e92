/**
 * `paypipe outputs`: the deployed stack's outputs from CloudFormation DescribeStacks (the source of
 * truth), refreshing the remembered copy in `<data-dir>/outputs-<stack>.json` on the way.
 */
import { resolve } from 'node:path';
import { assertCredentials } from '../../aws/credentials.js';
import { describeStack, outputsFilePath, rememberStackOutputs } from '../../aws/stack-outputs.js';
import type { Io, Style } from '../io.js';
import { DEFAULT_DATA_DIR } from '../options.js';
import { type InfraFlags, infraTarget, renderOutputs } from './target.js';

export interface OutputsFlags extends InfraFlags {
  stack?: string;
  dataDir?: string;
}

export interface OutputsResult {
  stackName: string;
  region: string;
  status: string;
  lastUpdated?: string | undefined;
  outputs: Record<string, string>;
  outputsFile: string;
}

export async function runOutputs(io: Io, flags: OutputsFlags): Promise<OutputsResult> {
  const target = infraTarget(flags);
  const stackName = flags.stack ?? target.stackName;
  await assertCredentials({ kind: 'aws', region: target.region, profile: target.profile });
  io.debugLog(`DescribeStacks ${stackName} in ${target.region}`);
  const d = await describeStack({ stackName, region: target.region, profile: target.profile });
  const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const outputsFile = outputsFilePath(dataDir, stackName);
  try {
    await rememberStackOutputs(dataDir, {
      stackName,
      region: target.region,
      savedAt: new Date().toISOString(),
      outputs: d.raw,
    });
  } catch (err) {
    // The answer came from CloudFormation; the remembered copy is a convenience.
    io.warn(
      `could not save the outputs to ${outputsFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return {
    stackName: d.stackName,
    region: d.region,
    status: d.status,
    lastUpdated: d.lastUpdated,
    outputs: d.raw,
    outputsFile,
  };
}

export function renderStackOutputs(r: OutputsResult, style: Style): string {
  return [
    `${style.bold(r.stackName)} (${r.region}) ${style.dim(r.status)}`,
    renderOutputs(r.outputs, style),
  ].join('\n');
}
