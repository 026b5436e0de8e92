/**
 * `paypipe deploy`: synthesizes the bundled stack in-process and deploys it with the CDK toolkit
 * library (a change set by default, or direct CreateStack/UpdateStack with `--method direct`, as
 * cdk's own --method), showing CloudFormation progress, then prints the stack outputs and
 * remembers them in `<data-dir>/outputs-<stack>.json`. A deployment that does not leave every
 * output the CLI reads is a failed deployment: it exits non-zero naming the missing outputs.
 */
import { resolve } from 'node:path';
import { assertCredentials } from '../../aws/credentials.js';
import { REQUIRED_OUTPUTS } from '../../aws/cloudformation.js';
import { describeStack, outputsFilePath, rememberStackOutputs } from '../../aws/stack-outputs.js';
import { PaypipeError, isPaypipeError } from '../../errors.js';
import { paypipeVersion } from '../../version.js';
import type { Io, Style } from '../io.js';
import { DEFAULT_DATA_DIR } from '../options.js';
import { canPrompt, confirm } from './prompt.js';
import { type InfraFlags, type InfraTarget, infraTarget, renderOutputs } from './target.js';
import type { RequireApproval } from './toolkit.js';

/** How CloudFormation applies the template (toolkit-lib's deploymentMethod). */
export type DeployMethod = 'change-set' | 'direct';

export interface DeployFlags extends InfraFlags {
  requireApproval?: RequireApproval;
  method?: DeployMethod;
  bootstrap?: boolean;
  dataDir?: string;
  /** false (--no-revert-drift): a plain change set that leaves changes made outside CloudFormation. */
  revertDrift?: boolean;
}

/**
 * How the stack is deployed: a change set, drift-aware for an existing stack so that whatever was
 * changed outside CloudFormation (`paypipe schedule --disable`, a console edit) is put back to the
 * template — a plain change set compares templates only and would leave it. CloudFormation offers
 * drift-aware change sets for updates, so a first deploy uses a plain one.
 */
export function deploymentMethod(
  stackExists: boolean,
  revertDrift = true,
  how: DeployMethod = 'change-set',
): { method: 'change-set'; revertDrift?: boolean } | { method: 'direct' } {
  // CreateStack/UpdateStack compare templates only: drift is not reverted (as with cdk --method direct).
  if (how === 'direct') return { method: 'direct' };
  return stackExists && revertDrift ? { method: 'change-set', revertDrift: true } : { method: 'change-set' };
}

/** Whether the stack exists and can be updated (not just a change set under review). */
async function stackExists(target: InfraTarget): Promise<boolean> {
  try {
    const d = await describeStack({
      stackName: target.stackName,
      region: target.region,
      profile: target.profile,
    });
    return d.status !== 'REVIEW_IN_PROGRESS';
  } catch (err) {
    if (isPaypipeError(err) && err.code === 'STACK_NOT_FOUND') return false;
    throw err;
  }
}

export interface DeployResult {
  stackName: string;
  region: string;
  stackArn: string;
  outputs: Record<string, string>;
  /** Where the outputs were remembered for later commands. */
  outputsFile: string;
  bootstrapped: boolean;
  method: DeployMethod;
  /** False when the template and parameters were unchanged and CloudFormation was not asked to update. */
  changed: boolean;
}

export async function runDeploy(io: Io, flags: DeployFlags): Promise<DeployResult> {
  const target = infraTarget(flags);
  // Fail fast (and before seconds of synthesis) when there is nothing to deploy with.
  await assertCredentials({ kind: 'aws', region: target.region, profile: target.profile });

  const { BootstrapEnvironments } = await import('@aws-cdk/toolkit-lib');
  const { assemblySource, makeToolkit, stackSelector, translateError } = await import('./toolkit.js');
  const { toolkit, host } = makeToolkit(io, target, {
    requireApproval: flags.requireApproval ?? 'broadening',
    confirm: canPrompt() ? (q) => confirm(q) : undefined,
  });
  host.spinner = await io.spinner(`Deploying ${target.stackName} to ${target.region}…`);
  const how = flags.method ?? 'change-set';
  let bootstrapped = false;
  let deployed: { stackArn: string; outputs: Record<string, string> };
  try {
    const source = await assemblySource(toolkit, target.config, { purpose: 'deploy' });
    // Synthesize once; bootstrap and deploy reuse the same assembly.
    const cx = await toolkit.synth(source, { stacks: stackSelector(target.stackName), validateStacks: true });
    try {
      if (flags.bootstrap === true) {
        host.progress(`bootstrapping CDK in ${target.region}…`);
        await toolkit.bootstrap(BootstrapEnvironments.fromCloudAssemblySource(cx), {});
        bootstrapped = true;
      }
      const method = deploymentMethod(await stackExists(target), flags.revertDrift !== false, how);
      if ('revertDrift' in method && method.revertDrift === true) {
        host.progress('drift-aware change set: changes made outside CloudFormation are reverted');
      }
      // toolkit.synth() of one stack obscures its template for display in place (it deletes
      // Rules.CheckBootstrapVersion from the assembly's cached copy), so deploying from `cx` would
      // compare a template without that rule to the deployed one and update an unchanged stack
      // every time. Deploy reads the same synthesized assembly afresh from its directory instead
      // (no second synthesis or bundling).
      const synthesized = await toolkit.fromAssemblyDirectory(cx.cloudAssembly.directory);
      const result = await toolkit.deploy(synthesized, {
        stacks: stackSelector(target.stackName),
        deploymentMethod: method,
      });
      const stack = result.stacks.find((s) => s.stackName === target.stackName) ?? result.stacks[0];
      if (stack === undefined) throw new Error(`the toolkit deployed no stack named ${target.stackName}`);
      deployed = stack;
    } finally {
      await cx.dispose();
    }
  } catch (err) {
    host.spinner?.fail(`Deployment of ${target.stackName} failed`);
    throw translateError(err, host, target, 'deploy');
  }
  const missing = REQUIRED_OUTPUTS.filter((k) => (deployed.outputs[k] ?? '') === '');
  const changed = host.deployNoOp.get(target.stackName) !== true;
  // The host's spinner: an approval question replaces the one started here.
  if (missing.length > 0) host.spinner?.fail(`Deployed ${target.stackName} without all its outputs`);
  else
    host.spinner?.succeed(`Deployed ${target.stackName} (${target.region})${changed ? '' : ': no changes'}`);
  const file = outputsFilePath(resolve(flags.dataDir ?? DEFAULT_DATA_DIR), target.stackName);
  try {
    await rememberStackOutputs(resolve(flags.dataDir ?? DEFAULT_DATA_DIR), {
      stackName: target.stackName,
      region: target.region,
      savedAt: new Date().toISOString(),
      outputs: deployed.outputs,
    });
  } catch (err) {
    // The deployment itself succeeded; `paypipe outputs` can write the file later.
    io.warn(`could not save the outputs to ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (missing.length > 0) {
    // What the stack did export is remembered above: the commands that do not need the missing
    // outputs still work, and this error says which ones the rest need.
    const cli = paypipeVersion();
    throw new PaypipeError(
      'STACK_INCOMPLETE',
      `deploy of ${target.stackName} (${how}) left the stack without the output${missing.length > 1 ? 's' : ''} ${missing.join(', ')} that paypipe reads`,
      {
        hint: 'the commands that use them will stop (the others work); look at the stack events (`--debug`) for the resources behind them, fix the cause and deploy again',
        details: {
          stackName: target.stackName,
          region: target.region,
          missing,
          stackVersion: deployed.outputs.PaypipeVersion,
          cliVersion: cli,
          stackArn: deployed.stackArn,
          outputs: deployed.outputs,
          method: how,
          changed,
        },
      },
    );
  }
  return {
    stackName: target.stackName,
    region: target.region,
    stackArn: deployed.stackArn,
    outputs: deployed.outputs,
    outputsFile: file,
    bootstrapped,
    method: how,
    changed,
  };
}

export function renderDeploy(r: DeployResult, style: Style): string {
  return [
    `${style.green('Deployed')} ${style.bold(r.stackName)} (${r.region})${r.bootstrapped ? ' after bootstrapping CDK' : ''}${r.changed ? '' : ': no changes'}`,
    renderOutputs(r.outputs, style),
    style.dim(`Outputs saved to ${r.outputsFile}`),
  ].join('\n');
}
