/**
 * The stack-output resolver (src/aws/cloudformation.ts) against a faked CloudFormation
 * (aws-sdk-client-mock; there is no local CloudFormation server): typed outputs, optional ones,
 * a missing stack, a stack without outputs, other AWS errors.
 */
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUIRED_OUTPUTS, readStackOutputs } from '../../src/aws/cloudformation.js';
import { isPaypipeError, type PaypipeError } from '../../src/errors.js';
import { STACK_OUTPUT_KEYS } from '../../src/pipeline/output-keys.js';

const cfn = mockClient(CloudFormationClient);
afterEach(() => cfn.reset());

const req = { stackName: 'paypipe-dev', region: 'ap-southeast-2' };
const outputsOf = (keys: readonly string[]) =>
  keys.map((k) => ({ OutputKey: k, OutputValue: `value-of-${k}` }));

async function failure(p: Promise<unknown>): Promise<PaypipeError> {
  try {
    await p;
  } catch (e) {
    if (isPaypipeError(e)) return e;
    throw e;
  }
  throw new Error('expected a PaypipeError');
}

describe('readStackOutputs', () => {
  it('returns every output, typed, for the stack and region asked', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'paypipe-dev' }).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(0),
          Outputs: [...outputsOf(STACK_OUTPUT_KEYS), { OutputKey: 'SomethingElse', OutputValue: 'x' }],
        },
      ],
    });
    const out = await readStackOutputs(req);
    expect(out.InputStreamName).toBe('value-of-InputStreamName');
    expect(out.AnalyticsBucketName).toBe('value-of-AnalyticsBucketName');
    expect(out.FailureQueueUrl).toBe('value-of-FailureQueueUrl');
    expect(out.AggregatorEventSourceMappingUuid).toBe('value-of-AggregatorEventSourceMappingUuid');
    expect(Object.keys(out).sort()).toEqual([...STACK_OUTPUT_KEYS].sort());
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(1);
    expect(cfn.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({ StackName: 'paypipe-dev' });
  });

  it('a stack from before the mapping output still resolves (that output is optional)', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(0),
          Outputs: outputsOf(REQUIRED_OUTPUTS),
        },
      ],
    });
    const out = await readStackOutputs(req);
    expect(out.AggregatorEventSourceMappingUuid).toBeUndefined();
    expect(out.RawBucketName).toBe('value-of-RawBucketName');
  });

  it('a missing stack is STACK_NOT_FOUND naming the stack, the region and the deploy to run', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: {},
        message: 'Stack with id paypipe-prod does not exist',
      }),
    );
    const e = await failure(readStackOutputs({ stackName: 'paypipe-prod', region: 'eu-west-1' }));
    expect(e.code).toBe('STACK_NOT_FOUND');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe('stack paypipe-prod not found in eu-west-1');
    expect(e.hint).toContain('paypipe deploy --env prod --region eu-west-1');
  });

  it('a stack without the outputs (failed create, in progress) says which are missing', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'ROLLBACK_COMPLETE',
          CreationTime: new Date(0),
          Outputs: [],
        },
      ],
    });
    const e = await failure(readStackOutputs(req));
    expect(e.code).toBe('STACK_NOT_FOUND');
    expect(e.message).toContain('ROLLBACK_COMPLETE');
    expect(e.message).toContain('InputStreamName');
    expect(e.hint).toContain('paypipe deploy');

    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: 'CREATE_IN_PROGRESS',
          CreationTime: new Date(0),
          Outputs: outputsOf(REQUIRED_OUTPUTS.filter((k) => k !== 'FailureQueueUrl')),
        },
      ],
    });
    const inProgress = await failure(readStackOutputs(req));
    expect(inProgress.message).toMatch(/lacks the output FailureQueueUrl$/);
    expect(inProgress.hint).toContain('wait');
  });

  it('other AWS errors are one line with the call, the stack and what to check', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: {},
        message:
          'User: arn:aws:iam::123456789012:user/x is not authorized to perform: cloudformation:DescribeStacks\nmore',
      }),
    );
    const e = await failure(readStackOutputs(req));
    expect(e.code).toBe('AWS');
    expect(e.message).not.toContain('\n');
    expect(e.message).toContain('DescribeStacks for paypipe-dev in ap-southeast-2');
    expect(e.hint).toContain('cloudformation:DescribeStacks');
  });
});
