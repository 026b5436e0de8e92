/**
 * `paypipe destroy`: deletes the stack through the CDK toolkit library, after saying what happens
 * to the data — with removal policy `destroy` (dev by default) the buckets and every object in
 * them are deleted; with `retain` the buckets and their data stay (and keep costing storage).
 * Asks on a terminal unless --force; without a terminal, --force is required.
 */
import { resolve } from 'node:path';
import { assertCredentials } from '../../aws/credentials.js';
import { describeStack, forgetStackOutputs } from '../../aws/stack-outputs.js';
import { isPaypipeError, usageError } from '../../errors.js';
import type { Io, Style } from '../io.js';
import { DEFAULT_DATA_DIR } from '../options.js';
import { canPrompt, confirm } from './prompt.js';
import { type InfraFlags, type InfraTarget, infraTarget } from './target.js';

export interface DestroyFlags extends InfraFlags {
  force?: boolean;
  dataDir?: string;
}

export interface DestroyResult {
  stackName: string;
  region: string;
  destroyed: boolean;
  /** Why nothing was destroyed, when `destroyed` is false. */
  reason?: 'not-found' | 'declined';
  removalPolicy: 'retain' | 'destroy';
  /** Buckets deleted with all their objects (removal policy destroy). */
  deletedBuckets: string[];
  /** Buckets left in place with their data (removal policy retain). */
  retainedBuckets: string[];
}

/** The sentence that tells the user what happens to the data; shown before asking. */
export function dataFate(target: InfraTarget, buckets: readonly string[]): string {
  const list = buckets.length > 0 ? buckets.join(', ') : 'the raw, analytics and access-log buckets';
  const kms = target.config.encryption.customerManagedKey;
  return target.config.removalPolicy === 'destroy'
    ? `This deletes ${list} with ALL their objects (every version), the Kinesis streams with their unread records, the Lambdas, the failure queue and the log groups${kms ? '; the KMS key is scheduled for deletion in 30 days' : ''}.`
    : `The buckets ${list} are RETAINED with their data (removal policy retain)${kms ? ', and so is the KMS key that encrypts them,' : ''} and must be emptied and deleted by hand; the Kinesis streams with their unread records, the Lambdas, the failure queue and the log groups are deleted.`;
}

export async function runDestroy(io: Io, flags: DestroyFlags): Promise<DestroyResult> {
  const target = infraTarget(flags);
  const interactive = canPrompt();
  // A usage error before anything touches AWS: scripts must say --force explicitly.
  if (flags.force !== true && !interactive) {
    throw usageError(
      `destroy of ${target.stackName} needs confirmation and there is no terminal to ask on`,
      'pass --force to destroy without asking',
    );
  }
  await assertCredentials({ kind: 'aws', region: target.region, profile: target.profile });

  const base = {
    stackName: target.stackName,
    region: target.region,
    removalPolicy: target.config.removalPolicy,
  };
  let buckets: string[] = [];
  try {
    const d = await describeStack({
      stackName: target.stackName,
      region: target.region,
      profile: target.profile,
    });
    // A half-created stack may lack them and can still be destroyed.
    buckets = [d.outputs.RawBucketName, d.outputs.AnalyticsBucketName].filter(
      (b): b is string => b !== undefined,
    );
  } catch (err) {
    if (isPaypipeError(err) && err.code === 'STACK_NOT_FOUND') {
      return { ...base, destroyed: false, reason: 'not-found', deletedBuckets: [], retainedBuckets: [] };
    }
    throw err;
  }
  const fate = dataFate(target, buckets);
  if (flags.force !== true) {
    // Shown even with --quiet: it is what the user is about to agree to.
    io.warn(fate);
    const ok = await confirm(`Destroy stack ${target.stackName} in ${target.region}?`);
    if (!ok)
      return { ...base, destroyed: false, reason: 'declined', deletedBuckets: [], retainedBuckets: [] };
  } else {
    io.info(fate);
  }

  const { assemblySource, makeToolkit, stackSelector, translateError } = await import('./toolkit.js');
  const { toolkit, host } = makeToolkit(io, target);
  const spinner = await io.spinner(`Destroying ${target.stackName} in ${target.region}…`);
  host.spinner = spinner;
  try {
    // Destroy needs the stack's identity only: skip bundling the Lambda code.
    const source = await assemblySource(toolkit, target.config, { purpose: 'destroy', skipBundling: true });
    await toolkit.destroy(source, { stacks: stackSelector(target.stackName) });
  } catch (err) {
    spinner.fail(`Destroying ${target.stackName} failed`);
    throw translateError(err, host, target, 'destroy');
  }
  spinner.succeed(`Destroyed ${target.stackName} (${target.region})`);
  await forgetStackOutputs(resolve(flags.dataDir ?? DEFAULT_DATA_DIR), target.stackName).catch(
    (err: unknown) =>
      io.warn(`could not remove the remembered outputs: ${err instanceof Error ? err.message : String(err)}`),
  );
  const destroy = target.config.removalPolicy === 'destroy';
  return {
    ...base,
    destroyed: true,
    deletedBuckets: destroy ? buckets : [],
    retainedBuckets: destroy ? [] : buckets,
  };
}

export function renderDestroy(r: DestroyResult, style: Style): string {
  if (!r.destroyed) {
    return r.reason === 'not-found'
      ? `Stack ${r.stackName} not found in ${r.region}; nothing to destroy`
      : 'Not destroyed';
  }
  const lines = [`${style.green('Destroyed')} ${style.bold(r.stackName)} (${r.region})`];
  if (r.retainedBuckets.length > 0) {
    lines.push(style.yellow(`Retained with their data: ${r.retainedBuckets.join(', ')}`));
  }
  if (r.deletedBuckets.length > 0)
    lines.push(style.dim(`Deleted with their objects: ${r.deletedBuckets.join(', ')}`));
  return lines.join('\n');
}
