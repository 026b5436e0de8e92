/**
 * CloudFormation as paypipe uses it: the deployed stack's outputs (DescribeStacks), typed. This is
 * how every AWS-touching command learns the physical names (buckets are named by CloudFormation).
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { PaypipeError } from '../errors.js';
import { STACK_OUTPUT_KEYS, type StackOutputKey } from '../pipeline/output-keys.js';
import { paypipeVersion } from '../version.js';
import type { ServiceEndpoints } from './settings.js';

/**
 * Outputs that may be absent without the stack being incomplete: the mapping id (older stacks, or
 * CloudFormation not exposing it), the version (stacks from before it was recorded) and the query
 * resources (stacks from before them).
 */
const OPTIONAL_OUTPUTS = [
  'AggregatorEventSourceMappingUuid',
  'PaypipeVersion',
  // Stacks from before the query tables: only `query`, `reconcile` and long `results` need them.
  'GlueDatabaseName',
  'AthenaWorkGroupName',
] as const;
type RequiredOutput = Exclude<StackOutputKey, (typeof OPTIONAL_OUTPUTS)[number]>;

/** Outputs every paypipe stack has (the shared key list minus the optional ones); a stack missing one is not (fully) deployed. */
export const REQUIRED_OUTPUTS: readonly RequiredOutput[] = STACK_OUTPUT_KEYS.filter(
  (k): k is RequiredOutput => !(OPTIONAL_OUTPUTS as readonly string[]).includes(k),
);

/**
 * The known outputs the stack has. Any may be absent: a command asks only for the ones it uses
 * (readStackOutputs' `need`), so a stack from another paypipe version, or one whose deploy left
 * an output out, still serves every command that does not need that output.
 */
export type StackOutputs = { readonly [K in StackOutputKey]?: string | undefined };

export interface StackOutputsRequest {
  stackName: string;
  region: string;
  profile?: string | undefined;
  /** As resolved with the region (settings.ts); absent: from this process's environment. */
  endpoints?: ServiceEndpoints | undefined;
}

export interface StackDescription {
  stackName: string;
  region: string;
  status: string;
  /** Why the stack is in that status (a failed resource, a cancelled update), when CloudFormation says. */
  statusReason?: string | undefined;
  outputs: StackOutputs;
  /** Everything the stack exports, including keys paypipe does not know. */
  raw: Record<string, string>;
  /** Required outputs the stack lacks (empty for a complete paypipe stack). */
  missing: RequiredOutput[];
  /** The paypipe version that deployed the stack (its PaypipeVersion output), when recorded. */
  version?: string | undefined;
  lastUpdated?: string | undefined;
}

const deployHint = (req: Pick<StackOutputsRequest, 'stackName' | 'region'>): string => {
  const env = /^[a-z][a-z0-9-]*-([a-z][a-z0-9-]*)$/.exec(req.stackName);
  return (
    `run \`paypipe deploy${env === null ? '' : ` --env ${env[1]}`} --region ${req.region}\` first` +
    ', or pass --stack/--region/--profile to look elsewhere'
  );
};

/**
 * DescribeStacks → the outputs, of which every key in `need` must be present (default: all the
 * required ones). A missing stack → 'STACK_NOT_FOUND'; a stack without a needed output →
 * 'STACK_INCOMPLETE' naming the outputs and, when another paypipe deployed it, both versions.
 */
export async function readStackOutputs(
  req: StackOutputsRequest,
  need: readonly StackOutputKey[] = REQUIRED_OUTPUTS,
): Promise<StackOutputs> {
  const d = await describeStack(req);
  const missing = need.filter((k) => d.outputs[k] === undefined);
  if (missing.length > 0) throw missingOutputsError(d, missing);
  return d.outputs;
}

/** The stack as it is, outputs and all; throws only when there is no stack or the call fails. */
export async function describeStack(req: StackOutputsRequest): Promise<StackDescription> {
  const { awsOnlyClients } = await import('./clients.js');
  const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = await (
    await awsOnlyClients(
      { kind: 'aws', region: req.region, profile: req.profile, endpoints: req.endpoints },
      { maxAttempts: 3 },
    )
  ).cloudFormation();
  let stack: Stack | undefined;
  try {
    const res = await cfn.send(new DescribeStacksCommand({ StackName: req.stackName }));
    stack = res.Stacks?.[0];
  } catch (err) {
    throw translateAwsError(err, req);
  } finally {
    cfn.destroy();
  }
  if (stack === undefined || stack.StackStatus === 'DELETE_COMPLETE') throw notFound(req);
  const raw: Record<string, string> = {};
  for (const o of stack.Outputs ?? []) {
    if (o.OutputKey !== undefined && o.OutputValue !== undefined) raw[o.OutputKey] = o.OutputValue;
  }
  const outputs = pickOutputs(raw);
  return {
    stackName: stack.StackName ?? req.stackName,
    region: req.region,
    status: stack.StackStatus ?? 'UNKNOWN',
    statusReason: stack.StackStatusReason,
    outputs,
    raw,
    missing: REQUIRED_OUTPUTS.filter((k) => outputs[k] === undefined),
    version: outputs.PaypipeVersion,
    lastUpdated: (stack.LastUpdatedTime ?? stack.CreationTime)?.toISOString(),
  };
}

/**
 * The error for a stack that exists but lacks outputs: says which, and the likely why — an
 * operation still running, another paypipe version, or a deployment that left them out.
 */
function missingOutputsError(
  d: Pick<StackDescription, 'stackName' | 'region' | 'status' | 'version'>,
  missing: readonly string[],
): PaypipeError {
  const cli = paypipeVersion();
  const by = d.version === undefined ? '' : `, deployed by paypipe ${d.version}`;
  let hint: string;
  if (d.status.endsWith('_IN_PROGRESS')) {
    hint = 'wait for the running stack operation to finish, then try again';
  } else if (d.version !== cli) {
    hint = `${d.version === undefined ? 'an older paypipe (no PaypipeVersion output)' : `paypipe ${d.version}`} deployed it and this is paypipe ${cli}: ${deployHint(d).replace(' first', '')} to bring the stack to this version`;
  } else {
    hint = `this version's deploy left them out: \`paypipe doctor\` shows what the stack has; ${deployHint(d).replace(' first', ' again')}`;
  }
  return new PaypipeError(
    'STACK_INCOMPLETE',
    `stack ${d.stackName} in ${d.region} (${d.status}${by}) lacks the output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    {
      hint,
      details: {
        stackName: d.stackName,
        region: d.region,
        status: d.status,
        missing,
        stackVersion: d.version,
        cliVersion: cli,
      },
    },
  );
}

/** The known, non-empty outputs from a key → value map (unknown keys dropped). */
function pickOutputs(raw: Readonly<Record<string, string>>): StackOutputs {
  const out: { [K in StackOutputKey]?: string } = {};
  for (const k of STACK_OUTPUT_KEYS) {
    const v = raw[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

function notFound(req: StackOutputsRequest): PaypipeError {
  return new PaypipeError(
    'STACK_NOT_FOUND',
    `stack ${req.stackName} not found in ${req.region}${req.profile === undefined ? '' : ` (profile ${req.profile})`}`,
    { hint: deployHint(req), details: { stackName: req.stackName, region: req.region } },
  );
}

function translateAwsError(err: unknown, req: StackOutputsRequest): PaypipeError {
  const e = err as { name?: string; message?: string; Code?: string };
  const message = e.message ?? String(err);
  // CloudFormation answers a missing stack with a generic ValidationError.
  if (e.name === 'ValidationError' && /does not exist/i.test(message)) return notFound(req);
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new PaypipeError('NO_CREDENTIALS', `no AWS credentials for region ${req.region}`, {
      hint: 'set AWS_PROFILE or pass --profile, export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`',
      cause: err,
    });
  }
  const first = message.split('\n')[0] ?? message;
  return new PaypipeError(
    'AWS',
    `CloudFormation DescribeStacks for ${req.stackName} in ${req.region} failed: ${e.name ?? 'Error'}: ${first}`,
    {
      hint: /denied|not authorized/i.test(message)
        ? 'the credentials need cloudformation:DescribeStacks on this stack'
        : 'check the region and your network, then try again',
      cause: err,
    },
  );
}
