/**
 * The stack-output resolver (src/aws/cloudformation.ts) against a faked CloudFormation
 * (aws-sdk-client-mock; there is no local CloudFormation server): typed outputs, optional ones,
 * a missing stack, a stack without outputs, other AWS errors.
 */
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUIRED_OUTPUTS, describeStack, readStackOutputs } from '../../src/aws/cloudformation.js';
import { isPaypipeError, type PaypipeError } from '../../src/errors.js';
import { STACK_OUTPUT_KEYS } from '../../src/pipeline/output-keys.js';
import { paypipeVersion } from '../../src/version.js';

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

  const stackWith = (status: StackStatus, keys: readonly string[], version?: string) =>
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'paypipe-dev',
          StackStatus: status,
          CreationTime: new Date(0),
          Outputs: [
            ...outputsOf(keys),
            ...(version === undefined ? [] : [{ OutputKey: 'PaypipeVersion', OutputValue: version }]),
          ],
        },
      ],
    });

  it('a stack without the outputs (failed create, in progress) is STACK_INCOMPLETE naming them, never STACK_NOT_FOUND', async () => {
    stackWith('ROLLBACK_COMPLETE', []);
    const e = await failure(readStackOutputs(req));
    expect(e.code).toBe('STACK_INCOMPLETE');
    expect(e.message).toContain('ROLLBACK_COMPLETE');
    expect(e.message).toContain('InputStreamName');
    expect(e.hint).toContain('paypipe deploy');

    stackWith(
      'CREATE_IN_PROGRESS',
      REQUIRED_OUTPUTS.filter((k) => k !== 'FailureQueueUrl'),
      paypipeVersion(),
    );
    const inProgress = await failure(readStackOutputs(req));
    expect(inProgress.code).toBe('STACK_INCOMPLETE');
    expect(inProgress.message).toMatch(/lacks the output FailureQueueUrl$/);
    expect(inProgress.hint).toContain('wait');
  });

  it('a command needs only the outputs it names: the rest may be missing', async () => {
    // A stack deployed where Firehose could not be created (or by a paypipe without those outputs).
    const firehose = ['RawDeliveryStreamName', 'AnalyticsDeliveryStreamName'];
    stackWith(
      'CREATE_COMPLETE',
      REQUIRED_OUTPUTS.filter((k) => !firehose.includes(k)),
      paypipeVersion(),
    );
    const out = await readStackOutputs(req, ['InputStreamName', 'AnalyticsBucketName']);
    expect(out.InputStreamName).toBe('value-of-InputStreamName');
    expect(out.RawDeliveryStreamName).toBeUndefined();
    const e = await failure(readStackOutputs(req, ['InputStreamName', 'RawDeliveryStreamName']));
    expect(e.code).toBe('STACK_INCOMPLETE');
    expect(e.message).toMatch(/lacks the output RawDeliveryStreamName$/);
    expect(e.details).toMatchObject({ missing: ['RawDeliveryStreamName'] });
  });

  it('a stack deployed by another paypipe says both versions; an unversioned one says it is older', async () => {
    stackWith('UPDATE_COMPLETE', ['InputStreamName'], '0.0.1-old');
    const e = await failure(readStackOutputs(req, ['RawBucketName']));
    expect(e.message).toContain('deployed by paypipe 0.0.1-old');
    expect(e.hint).toContain(`paypipe 0.0.1-old deployed it and this is paypipe ${paypipeVersion()}`);
    expect(e.details).toMatchObject({ stackVersion: '0.0.1-old', cliVersion: paypipeVersion() });

    stackWith('UPDATE_COMPLETE', ['InputStreamName']);
    const older = await failure(readStackOutputs(req, ['RawBucketName']));
    expect(older.hint).toContain('an older paypipe (no PaypipeVersion output)');
  });

  it('describeStack reports what is there and what is missing without throwing', async () => {
    stackWith('CREATE_COMPLETE', ['InputStreamName', 'Region'], '9.9.9');
    const d = await describeStack(req);
    expect(d.outputs).toEqual({
      InputStreamName: 'value-of-InputStreamName',
      Region: 'value-of-Region',
      PaypipeVersion: '9.9.9',
    });
    expect(d.version).toBe('9.9.9');
    expect([...d.missing].sort()).toEqual(
      REQUIRED_OUTPUTS.filter((k) => k !== 'InputStreamName' && k !== 'Region').sort(),
    );
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
