/**
 * `paypipe diff`: what a deploy would change, comparing the synthesized template with the deployed
 * one (read-only: no change set is created; a stack that does not exist yet diffs against nothing).
 */
import { assertCredentials } from '../../aws/credentials.js';
import { PaypipeError } from '../../errors.js';
import type { Io, Style } from '../io.js';
import { type InfraFlags, infraTarget } from './target.js';

export interface DiffFlags extends InfraFlags {
  /** Exit 1 when there are differences (for CI gates). */
  fail?: boolean;
}

export interface ResourceChange {
  logicalId: string;
  type: string;
  change: 'add' | 'remove' | 'update';
}

export interface DiffResult {
  stackName: string;
  region: string;
  differenceCount: number;
  permissionsBroadened: boolean;
  resources: ResourceChange[];
  /** The toolkit's human-readable diff. */
  text: string;
}

/** The part of @aws-cdk/cloudformation-diff's TemplateDiff this command reads. */
export interface TemplateDiffLike {
  differenceCount: number;
  permissionsBroadened: boolean;
  resources: {
    forEachDifference(
      cb: (
        logicalId: string,
        change: { isAddition: boolean; isRemoval: boolean; resourceType?: string | undefined },
      ) => void,
    ): void;
  };
}

export async function runDiff(io: Io, flags: DiffFlags): Promise<DiffResult> {
  const target = infraTarget(flags);
  await assertCredentials({ kind: 'aws', region: target.region, profile: target.profile });
  const { DiffMethod } = await import('@aws-cdk/toolkit-lib');
  const { assemblySource, makeToolkit, stackSelector, translateError } = await import('./toolkit.js');
  const { toolkit, host } = makeToolkit(io, target);
  const spinner = await io.spinner(`Comparing ${target.stackName} with ${target.region}…`);
  host.spinner = spinner;
  let diffs: Record<string, TemplateDiffLike>;
  try {
    const source = await assemblySource(toolkit, target.config, { purpose: 'diff' });
    diffs = (await toolkit.diff(source, {
      stacks: stackSelector(target.stackName),
      method: DiffMethod.TemplateOnly({ compareAgainstProcessedTemplate: true }),
    })) as unknown as Record<string, TemplateDiffLike>;
  } catch (err) {
    spinner.fail(`Diff of ${target.stackName} failed`);
    throw translateError(err, host, target, 'diff');
  }
  spinner.stop();
  return summarizeDiff(diffs, host.diffTexts, target);
}

/** The toolkit's per-stack TemplateDiffs (and diff texts) as paypipe's result for one stack. */
export function summarizeDiff(
  diffs: Readonly<Record<string, TemplateDiffLike>>,
  texts: ReadonlyMap<string, string>,
  target: { stackName: string; region: string },
): DiffResult {
  const d = diffs[target.stackName] ?? Object.values(diffs)[0];
  const resources: ResourceChange[] = [];
  d?.resources.forEachDifference((logicalId, c) => {
    resources.push({
      logicalId,
      type: c.resourceType ?? '',
      change: c.isAddition ? 'add' : c.isRemoval ? 'remove' : 'update',
    });
  });
  return {
    stackName: target.stackName,
    region: target.region,
    differenceCount: d?.differenceCount ?? 0,
    permissionsBroadened: d?.permissionsBroadened ?? false,
    resources,
    text: texts.get(target.stackName) ?? [...texts.values()].join('\n'),
  };
}

export function renderDiff(r: DiffResult, style: Style): string {
  if (r.differenceCount === 0) return `${style.green('No differences')} for ${r.stackName} (${r.region})`;
  return [
    r.text,
    `${style.bold(String(r.differenceCount))} difference${r.differenceCount === 1 ? '' : 's'} in ${r.stackName} (${r.region})` +
      (r.permissionsBroadened ? style.yellow(' — IAM permissions broaden') : ''),
  ].join('\n');
}

export function failOnDifferences(r: DiffResult): void {
  if (r.differenceCount > 0) {
    throw new PaypipeError(
      'CHECK_FAILED',
      `${r.stackName} in ${r.region} differs from the synthesized stack (${r.differenceCount} difference${r.differenceCount === 1 ? '' : 's'})`,
      { hint: 'run `paypipe deploy` to apply them' },
    );
  }
}
