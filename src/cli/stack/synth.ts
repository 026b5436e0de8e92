/**
 * `paypipe synth`: the cloud assembly of the bundled stack (templates + bundled Lambda code),
 * through the CDK toolkit library in-process. Offline: no credentials, lookups or network.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Io } from '../io.js';
import { type InfraFlags, infraTarget } from './target.js';

export interface SynthFlags extends InfraFlags {
  out?: string;
}

export interface SynthResult {
  templatePath: string;
  outdir: string;
  stackName: string;
  region: string;
}

export async function runSynth(io: Io, flags: SynthFlags): Promise<SynthResult> {
  const target = infraTarget(flags);
  const outdir = resolve(flags.out ?? 'cdk.out');
  // Flags are checked above before aws-cdk-lib and the toolkit (a second or two) are loaded.
  const { assemblySource, makeToolkit, stackSelector, translateError } = await import('./toolkit.js');
  const { toolkit, host } = makeToolkit(io, target);
  const spinner = await io.spinner(`Synthesizing ${target.stackName} (${target.region})…`);
  host.spinner = spinner;
  let templatePath: string;
  try {
    const source = await assemblySource(toolkit, target.config, { purpose: 'synth', outdir });
    const cx = await toolkit.synth(source, { stacks: stackSelector(target.stackName), validateStacks: true });
    try {
      templatePath = cx.cloudAssembly.getStackByName(target.stackName).templateFullPath;
    } finally {
      await cx.dispose();
    }
  } catch (err) {
    spinner.fail(`Synthesis of ${target.stackName} failed`);
    throw translateError(err, host, target, 'synth');
  }
  spinner.succeed(`Synthesized ${target.stackName} (${target.region}) into ${outdir}`);
  if (!existsSync(templatePath)) {
    throw new Error(`the toolkit reported ${templatePath} but did not write it`);
  }
  return { templatePath, outdir, stackName: target.stackName, region: target.region };
}
