/**
 * The shared stack-output resolver against a faked CloudFormation (aws-sdk-client-mock; there is no
 * local CloudFormation server), the remembered-outputs file, and the credential check against real
 * SDK providers in a controlled environment.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertCredentials } from '../../src/aws/credentials.js';
import {
  forgetStackOutputs,
  readRememberedOutputs,
  readStackOutputs,
  rememberStackOutputs,
  REQUIRED_OUTPUTS,
} from '../../src/aws/stack-outputs.js';
import { isPaypipeError, type PaypipeError } from '../../src/errors.js';
import { STACK_OUTPUT_KEYS } from '../../src/infra/output-keys.js';

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

describe('remembered outputs', () => {
  it('round-trips per stack and region, and is forgotten on request', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'paypipe-outputs-')), 'nested', '.paypipe');
    const value = {
      stackName: 'paypipe-dev',
      region: 'ap-southeast-2',
      savedAt: '2025-01-15T10:00:00.000Z',
      outputs: { InputStreamName: 'paypipe-dev-input-stream' },
    };
    const file = await rememberStackOutputs(dir, value);
    expect(file).toBe(join(dir, 'outputs-paypipe-dev.json'));
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'ap-southeast-2')).toEqual(value);
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'eu-west-1')).toBeUndefined();
    expect(await readRememberedOutputs(dir, 'paypipe-prod', 'ap-southeast-2')).toBeUndefined();
    writeFileSync(join(dir, 'outputs-paypipe-prod.json'), '{not json');
    expect(await readRememberedOutputs(dir, 'paypipe-prod', 'ap-southeast-2')).toBeUndefined();
    await forgetStackOutputs(dir, 'paypipe-dev');
    expect(await readRememberedOutputs(dir, 'paypipe-dev', 'ap-southeast-2')).toBeUndefined();
  });
});

describe('assertCredentials', () => {
  const home = mkdtempSync(join(tmpdir(), 'paypipe-cred-home-'));
  const base = { PATH: process.env.PATH ?? '', HOME: home, AWS_EC2_METADATA_DISABLED: 'true' };
  const target = { kind: 'aws' as const, region: 'ap-southeast-2' };

  it('passes with credentials in the environment', async () => {
    await expect(
      assertCredentials(target, {
        env: { ...base, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMIEXAMPLEKEY' },
      }),
    ).resolves.toBeUndefined();
  });

  it('passes with a named profile from the shared credentials file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paypipe-cred-files-'));
    writeFileSync(
      join(dir, 'credentials'),
      '[ci]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t\n',
    );
    await expect(
      assertCredentials(
        { ...target, profile: 'ci' },
        {
          env: {
            ...base,
            AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
            AWS_CONFIG_FILE: join(dir, 'none'),
          },
        },
      ),
    ).resolves.toBeUndefined();
  });

  it('fails with NO_CREDENTIALS and the ways to fix it when there are none — without leaking values', async () => {
    const e = await failure(assertCredentials(target, { env: base }));
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe('no AWS credentials found (region ap-southeast-2)');
    expect(e.hint).toMatch(/AWS_PROFILE.*--profile.*AWS_ACCESS_KEY_ID.*AWS_SECRET_ACCESS_KEY.*aws sso login/);
  });

  it('names a profile that does not exist', async () => {
    const e = await failure(assertCredentials({ ...target, profile: 'ghost' }, { env: base }));
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.message).toMatch(/^AWS profile "ghost" gave no credentials/);
    expect(e.hint).toContain('aws sso login --profile ghost');
  });

  it('reports expired credentials with their expiry, never the keys', async () => {
    const e = await failure(
      assertCredentials(target, {
        env: {
          ...base,
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'very-secret-value',
          AWS_SESSION_TOKEN: 'token-value',
          AWS_CREDENTIAL_EXPIRATION: '2020-01-01T00:00:00Z',
        },
      }),
    );
    expect(e.code).toBe('NO_CREDENTIALS');
    expect(e.message).toBe('the AWS credentials expired at 2020-01-01T00:00:00.000Z');
    const everything = `${e.message} ${e.hint} ${JSON.stringify(e.details ?? {})}`;
    for (const secret of ['AKIDEXAMPLE', 'very-secret-value', 'token-value'])
      expect(everything).not.toContain(secret);
  });

  describe('a credentials endpoint that never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    const closed = new Set<Socket>();
    let port = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        sockets.add(s);
        // Read (and ignore) the request so the client's close is seen as 'end'.
        s.resume();
        s.on('close', () => closed.add(s));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const a = server.address();
      port = typeof a === 'object' && a !== null ? a.port : 0;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('is given up on at the deadline, and the probe is torn down', async () => {
      const env = { ...base, AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/creds` };
      const e = await failure(assertCredentials(target, { env, timeoutMs: 800 }));
      expect(e.code).toBe('NO_CREDENTIALS');
      expect(e.message).toMatch(/no answer within 0\.8 s/);
      // Terminating the worker closes its connection: the server sees it go away.
      expect(sockets.size).toBeGreaterThan(0);
      await expect.poll(() => closed.size, { timeout: 5000 }).toBe(sockets.size);
    });
  });
});
