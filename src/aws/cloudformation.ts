/**
 * CloudFormation as paypipe uses it: the deployed stack's outputs (DescribeStacks), typed. This is
 * how every AWS-touching command learns the physical names (buckets are named by CloudFormation).
 */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { PaypipeError } from '../errors.js';
import { STACK_OUTPUT_KEYS, type StackOutputKey } from '../pipeline/output-keys.js';
import type { ServiceEndpoints } from './settings.js';

/** Outputs that may be absent (older stacks, or CloudFormation not exposing the mapping id). */
const OPTIONAL_OUTPUTS = ['AggregatorEventSourceMappingUuid'] as const;
type RequiredOutput = Exclude<StackOutputKey, (typeof OPTIONAL_OUTPUTS)[number]>;

/** Outputs every paypipe stack has (the shared key list minus the optional ones); a stack missing one is not (fully) deployed. */
export const REQUIRED_OUTPUTS: readonly RequiredOutput[] = STACK_OUTPUT_KEYS.filter(
  (k): k is RequiredOutput => !(OPTIONAL_OUTPUTS as readonly string[]).includes(k),
);

type RequiredKey = (typeof REQUIRED_OUTPUTS)[number];

export type StackOutputs = { readonly [K in RequiredKey]: string } & {
  /** UUID of the aggregator's event source mapping (absent on stacks from before it was added). */
  readonly AggregatorEventSourceMappingUuid?: string | undefined;
};

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
  lastUpdated?: string | undefined;
}

const deployHint = (req: StackOutputsRequest): string => {
  const env = /^[a-z][a-z0-9-]*-([a-z][a-z0-9-]*)$/.exec(req.stackName);
  return (
    `run \`paypipe deploy${env === null ? '' : ` --env ${env[1]}`} --region ${req.region}\` first` +
    ', or pass --stack/--region/--profile to look elsewhere'
  );
};

/** DescribeStacks → typed outputs. Missing stack or outputs → PaypipeError 'STACK_NOT_FOUND'. */
export async function readStackOutputs(req: StackOutputsRequest): Promise<StackOutputs> {
  return (await describeStack(req)).outputs;
}

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
  const status = stack.StackStatus ?? 'UNKNOWN';
  const missing = REQUIRED_OUTPUTS.filter((k) => raw[k] === undefined || raw[k] === '');
  if (missing.length > 0) {
    throw new PaypipeError(
      'STACK_NOT_FOUND',
      `stack ${req.stackName} in ${req.region} (${status}) lacks the output${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      {
        hint: status.endsWith('_IN_PROGRESS')
          ? 'wait for the running stack operation to finish, then try again'
          : deployHint(req),
        details: { stackName: req.stackName, region: req.region, status, missing },
      },
    );
  }
  return {
    stackName: stack.StackName ?? req.stackName,
    region: req.region,
    status,
    statusReason: stack.StackStatusReason,
    outputs: pickOutputs(raw),
    raw,
    lastUpdated: (stack.LastUpdatedTime ?? stack.CreationTime)?.toISOString(),
  };
}

/** The known outputs from a key → value map (unknown keys dropped; required ones must be present). */
function pickOutputs(raw: Readonly<Record<string, string>>): StackOutputs {
  const out: Record<string, string> = {};
  for (const k of STACK_OUTPUT_KEYS) {
    const v = raw[k];
    if (v !== undefined) out[k] = v;
  }
  return out as unknown as StackOutputs;
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
