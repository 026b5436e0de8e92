/**
 * `paypipe outputs` and the read-only part of `paypipe destroy` in-process, with credentials in
 * the environment and CloudFormation faked (aws-sdk-client-mock).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDestroy } from '../../../src/cli/stack/destroy.js';
import { renderStackOutputs, runOutputs } from '../../../src/cli/stack/outputs.js';
import { Io } from '../../../src/cli/io.js';
import { rememberStackOutputs } from '../../../src/aws/stack-outputs.js';
import { STACK_OUTPUT_KEYS } from '../../../src/infra/output-keys.js';

const cfn = mockClient(CloudFormationClient);
afterEach(() => cfn.reset());

const saved: Record<string, string | undefined> = {};
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'eu-west-1',
  AWS_PROFILE: undefined,
};
beforeAll(() => {
  for (const [k, v] of Object.entries(ENV)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

function quietIo(): { io: Io; err: () => string } {
  let err = '';
  const sink = new Writable({
    write(c, _e, cb) {
      err += String(c);
      cb();
    },
  });
  return { io: new Io({ stdout: sink, stderr: sink, env: {} }), err: () => err };
}

describe('paypipe outputs', () => {
  it('reads the stack in the resolved region, returns its outputs and remembers them', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'paypipe-staging' }).resolves({
      Stacks: [
        {
          StackName: 'paypipe-staging',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date('2025-01-15T10:00:00Z'),
          Outputs: STACK_OUTPUT_KEYS.map((k) => ({ OutputKey: k, OutputValue: `${k}-value` })),
        },
      ],
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-outputs-cmd-'));
    const { io } = quietIo();
    const r = await runOutputs(io, { env: 'staging', dataDir });
    expect(r).toMatchObject({
      stackName: 'paypipe-staging',
      region: 'eu-west-1',
      status: 'CREATE_COMPLETE',
      lastUpdated: '2025-01-15T10:00:00.000Z',
    });
    expect(r.outputs.AnalyticsBucketName).toBe('AnalyticsBucketName-value');
    expect(r.outputsFile).toBe(join(dataDir, 'outputs-paypipe-staging.json'));
    const remembered = JSON.parse(readFileSync(r.outputsFile, 'utf8')) as { region: string; outputs: object };
    expect(remembered.region).toBe('eu-west-1');
    expect(remembered.outputs).toEqual(r.outputs);
    const plain = { bold: (s: string) => s, dim: (s: string) => s, cyan: (s: string) => s } as never;
    const text = renderStackOutputs(r, plain);
    expect(text.split('\n')[0]).toBe('paypipe-staging (eu-west-1) CREATE_COMPLETE');
    expect(text).toMatch(/^ {2}InputStreamName +InputStreamName-value$/m);
  });

  it('--stack overrides the derived name; a missing one is STACK_NOT_FOUND', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: {},
        message: 'Stack with id custom does not exist',
      }),
    );
    const { io } = quietIo();
    await expect(
      runOutputs(io, { stack: 'custom', dataDir: mkdtempSync(join(tmpdir(), 'pp-')) }),
    ).rejects.toMatchObject({
      code: 'STACK_NOT_FOUND',
      message: 'stack custom not found in eu-west-1',
    });
    expect(cfn.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({ StackName: 'custom' });
  });
});

describe('paypipe destroy', () => {
  it('a stack that does not exist is reported, not an error, and nothing is touched', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: {},
        message: 'Stack with id paypipe-dev does not exist',
      }),
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'paypipe-destroy-'));
    const file = await rememberStackOutputs(dataDir, {
      stackName: 'paypipe-dev',
      region: 'eu-west-1',
      savedAt: '2025-01-15T10:00:00.000Z',
      outputs: {},
    });
    const { io } = quietIo();
    const r = await runDestroy(io, { force: true, dataDir });
    expect(r).toEqual({
      stackName: 'paypipe-dev',
      region: 'eu-west-1',
      removalPolicy: 'destroy',
      destroyed: false,
      reason: 'not-found',
      deletedBuckets: [],
      retainedBuckets: [],
    });
    expect(existsSync(file)).toBe(true);
  });

  it('without a terminal and without --force it stops before touching AWS (exit 2)', async () => {
    const { io } = quietIo();
    await expect(runDestroy(io, { env: 'prod' })).rejects.toMatchObject({ code: 'USAGE', exitCode: 2 });
    expect(cfn.commandCalls(DescribeStacksCommand)).toHaveLength(0);
  });
});
