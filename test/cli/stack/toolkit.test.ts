/**
 * The CDK toolkit glue in-process: how the IoHost answers the toolkit's questions and renders its
 * progress, how a cdk-nag failure inside the toolkit becomes one line, and how the infra commands
 * resolve their target.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DiffMethod, type IoMessage, type IoRequest } from '@aws-cdk/toolkit-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { deploymentMethod } from '../../../src/cli/stack/deploy.js';
import { dataFate } from '../../../src/cli/stack/destroy.js';
import { renderDiff, summarizeDiff, type TemplateDiffLike } from '../../../src/cli/stack/diff.js';
import { infraTarget } from '../../../src/cli/stack/target.js';
import {
  type AssemblyPurpose,
  assemblySource,
  makeToolkit,
  PaypipeIoHost,
  stackSelector,
  translateError,
  validationError,
} from '../../../src/cli/stack/toolkit.js';
import { Io } from '../../../src/cli/io.js';
import { buildApp } from '../../../src/infra/app.js';

function capture(): { io: Io; err: () => string; out: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const io = new Io({
    stdout: sink((s) => {
      out += s;
    }),
    stderr: sink((s) => {
      err += s;
    }),
    env: {},
  });
  return { io, err: () => err, out: () => out };
}

const request = (code: string, data: unknown): IoRequest<unknown, boolean> =>
  ({
    time: new Date(),
    level: 'info',
    action: 'deploy',
    code,
    message: 'Stack includes security-sensitive updates. Do you wish to deploy these changes?',
    data,
    defaultResponse: true,
  }) as IoRequest<unknown, boolean>;

describe('PaypipeIoHost approvals', () => {
  it('with --require-approval broadening and no terminal it refuses IAM-broadening changes', async () => {
    const host = new PaypipeIoHost(capture().io, { requireApproval: 'broadening' });
    expect(
      await host.requestResponse(request('CDK_TOOLKIT_I5060', { permissionChangeType: 'broadening' })),
    ).toBe(false);
    const e = translateError(new Error('Deployment cancelled'), host, infraTarget({}, {}), 'deploy');
    expect(e.code).toBe('USAGE');
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('--require-approval never');
  });

  it('approves changes that do not broaden permissions, and everything with never', async () => {
    const host = new PaypipeIoHost(capture().io, { requireApproval: 'broadening' });
    expect(await host.requestResponse(request('CDK_TOOLKIT_I5060', { permissionChangeType: 'none' }))).toBe(
      true,
    );
    const never = new PaypipeIoHost(capture().io, { requireApproval: 'never' });
    expect(
      await never.requestResponse(request('CDK_TOOLKIT_I5060', { permissionChangeType: 'broadening' })),
    ).toBe(true);
    expect(never.approvalRefused).toBeUndefined();
  });

  it('asks on a terminal and follows the answer', async () => {
    const questions: string[] = [];
    const host = new PaypipeIoHost(capture().io, {
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(
      await host.requestResponse(request('CDK_TOOLKIT_I5060', { permissionChangeType: 'broadening' })),
    ).toBe(false);
    expect(questions).toHaveLength(1);
    expect(host.approvalRefused).toBe('the IAM changes were not approved');
  });

  it('confirms the destroy the command already confirmed', async () => {
    const host = new PaypipeIoHost(capture().io);
    expect(await host.requestResponse(request('CDK_TOOLKIT_I7010', {}))).toBe(true);
  });
});

describe('PaypipeIoHost progress', () => {
  const activity = (LogicalResourceId: string, ResourceStatus: string, ResourceStatusReason = '') =>
    ({
      time: new Date(),
      level: 'info',
      action: 'deploy',
      code: 'CDK_TOOLKIT_I5502',
      message: '',
      data: {
        event: { LogicalResourceId, ResourceType: 'AWS::S3::Bucket', ResourceStatus, ResourceStatusReason },
        progress: { completed: 1, total: 40 },
      },
    }) as IoMessage<unknown>;

  it('prints resource progress as plain stderr lines without a terminal, once each', async () => {
    const c = capture();
    const host = new PaypipeIoHost(c.io);
    await host.notify(activity('RawBucket', 'CREATE_IN_PROGRESS'));
    await host.notify(activity('RawBucket', 'CREATE_IN_PROGRESS'));
    await host.notify(activity('RawBucket', 'CREATE_COMPLETE'));
    expect(c.err().split('\n').filter(Boolean)).toEqual([
      'RawBucket AWS::S3::Bucket CREATE_IN_PROGRESS [1/40]',
      'RawBucket AWS::S3::Bucket CREATE_COMPLETE [1/40]',
    ]);
    expect(c.out()).toBe('');
  });

  it('keeps the first real failure reason for the final error line', async () => {
    const c = capture();
    const host = new PaypipeIoHost(c.io);
    await host.notify(activity('RawBucket', 'CREATE_FAILED', 'Bucket already exists'));
    await host.notify(activity('Other', 'CREATE_FAILED', 'Resource creation cancelled'));
    expect(host.failures).toEqual(['RawBucket (AWS::S3::Bucket): Bucket already exists']);
    const e = translateError(new Error('The stack failed'), host, infraTarget({}, {}), 'deploy');
    expect(e.message).toBe(
      'deploy of paypipe-dev in ap-southeast-2 failed: RawBucket (AWS::S3::Bucket): Bucket already exists',
    );
    expect(e.code).toBe('AWS');
  });
});

describe('a cdk-nag finding inside the toolkit', () => {
  it('fails synth with one line naming the rule and the construct', async () => {
    const c = capture();
    const target = infraTarget({}, {});
    const { toolkit, host } = makeToolkit(c.io, target);
    const stub = join(import.meta.dirname, '..', '..', 'infra', 'fixtures', 'stub-handler.ts');
    const source = await toolkit.fromAssemblyBuilder(
      async (props) => {
        const { app, stack } = buildApp(target.config, {
          ...(props.outdir === undefined ? {} : { outdir: props.outdir }),
          context: { ...props.context },
          entries: { producer: stub, aggregator: stub },
        });
        // A bucket with neither access logs nor a TLS-only policy: cdk-nag must object.
        new s3.Bucket(stack, 'Careless');
        return app.synth();
      },
      {
        outdir: mkdtempSync(join(tmpdir(), 'paypipe-nag-cli-')),
        lookups: false,
        resolveDefaultEnvironment: false,
        clobberEnv: false,
      },
    );
    const before = process.env.CDK_VALIDATION;
    process.env.CDK_VALIDATION = 'false';
    let error: unknown;
    try {
      await toolkit.synth(source, { stacks: stackSelector(target.stackName), validateStacks: true });
    } catch (e) {
      error = e;
    } finally {
      if (before === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = before;
    }
    expect(error).toBeDefined();
    const e = translateError(error, host, target, 'synth');
    expect(e.code).toBe('CHECK_FAILED');
    expect(e.message).not.toContain('\n');
    expect(e.message).toMatch(
      /^synthesis failed policy validation with \d+ findings? neither fixed nor acknowledged: /,
    );
    expect(e.message).toContain('AwsSolutions-S10 at paypipe-dev/Careless');
    expect(e.details?.findings).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-S1 at paypipe-dev\/Careless/)]),
    );
    // Nothing reached stdout.
    expect(c.out()).toBe('');
  }, 180_000);

  it('summarises many findings in one line', () => {
    const e = validationError([
      {
        pluginName: 'AwsSolutions',
        violations: [1, 2, 3, 4, 5].map((i) => ({
          ruleName: `AwsSolutions-X${i}`,
          violatingConstructs: [{ constructPath: `s/R${i}` }],
        })),
      },
    ]);
    expect(e.message).toBe(
      'synthesis failed policy validation with 5 findings neither fixed nor acknowledged: AwsSolutions-X1 at s/R1; AwsSolutions-X2 at s/R2; AwsSolutions-X3 at s/R3; and 2 more',
    );
  });
});

describe('infra targets', () => {
  it('takes the region from the flag, then AWS_REGION, then AWS_DEFAULT_REGION, then the default', () => {
    expect(infraTarget({ region: 'us-east-1' }, { AWS_REGION: 'eu-west-1' }).region).toBe('us-east-1');
    expect(infraTarget({}, { AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe(
      'eu-west-1',
    );
    expect(infraTarget({}, { AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe('us-west-2');
    expect(infraTarget({}, {}).region).toBe('ap-southeast-2');
  });

  it('names the stack <project>-<env> and takes the profile from the flag or AWS_PROFILE', () => {
    const t = infraTarget({ project: 'acme', env: 'prod' }, { AWS_PROFILE: 'ops' });
    expect(t.stackName).toBe('acme-prod');
    expect(t.config.stackName).toBe('acme-prod');
    expect(t.profile).toBe('ops');
    expect(infraTarget({ profile: 'mine' }, { AWS_PROFILE: 'ops' }).profile).toBe('mine');
  });

  it('destroy says what happens to the data, per removal policy', () => {
    const dev = dataFate(infraTarget({ env: 'dev' }, {}), ['raw-b', 'analytics-b']);
    expect(dev).toContain('deletes raw-b, analytics-b with ALL their objects');
    const prod = dataFate(infraTarget({ env: 'prod' }, {}), ['raw-b', 'analytics-b']);
    expect(prod).toContain('raw-b, analytics-b are RETAINED with their data');
  });
});

describe('diff through the toolkit', () => {
  it("against an empty deployed template: every resource is an addition, with the toolkit's text", async () => {
    const c = capture();
    const target = infraTarget({}, {});
    const { toolkit, host } = makeToolkit(c.io, target);
    const deployed = join(mkdtempSync(join(tmpdir(), 'paypipe-diff-')), 'deployed.json');
    writeFileSync(deployed, JSON.stringify({ Resources: {} }));
    const before = process.env.CDK_VALIDATION;
    process.env.CDK_VALIDATION = 'false';
    let diffs: Record<string, TemplateDiffLike>;
    try {
      const source = await assemblySource(toolkit, target.config, { purpose: 'diff' });
      diffs = (await toolkit.diff(source, {
        stacks: stackSelector(target.stackName),
        method: DiffMethod.LocalFile(deployed),
      })) as unknown as Record<string, TemplateDiffLike>;
    } finally {
      if (before === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = before;
    }
    const r = summarizeDiff(diffs, host.diffTexts, target);
    expect(r.stackName).toBe('paypipe-dev');
    expect(r.differenceCount).toBeGreaterThan(20);
    expect(r.permissionsBroadened).toBe(true);
    expect(r.resources.every((x) => x.change === 'add')).toBe(true);
    expect(r.resources.filter((x) => x.type === 'AWS::Kinesis::Stream')).toHaveLength(2);
    expect(r.resources.filter((x) => x.type === 'AWS::KinesisFirehose::DeliveryStream')).toHaveLength(2);
    expect(r.text).toContain('AWS::Lambda::Function');
    const plainStyle = { bold: (s: string) => s, green: (s: string) => s, yellow: (s: string) => s } as never;
    expect(renderDiff(r, plainStyle)).toMatch(
      /\d+ differences in paypipe-dev \(ap-southeast-2\) — IAM permissions broaden$/,
    );
    expect(c.out()).toBe('');
  }, 180_000);
});

describe('where cdk-nag runs', () => {
  const stub = join(import.meta.dirname, '..', '..', 'infra', 'fixtures', 'stub-handler.ts');

  /** Synthesizes for a purpose with a construct cdk-nag objects to (a new rule in a release, say). */
  async function synthWithFinding(purpose: AssemblyPurpose): Promise<unknown> {
    const target = infraTarget({}, {});
    const { toolkit, host } = makeToolkit(capture().io, target);
    const source = await assemblySource(toolkit, target.config, {
      purpose,
      entries: { producer: stub, aggregator: stub },
      skipBundling: true,
      customize: (stack) => {
        new s3.Bucket(stack, 'Careless');
      },
    });
    const before = process.env.CDK_VALIDATION;
    process.env.CDK_VALIDATION = 'false';
    try {
      const cx = await toolkit.synth(source, {
        stacks: stackSelector(target.stackName),
        validateStacks: true,
      });
      await cx.dispose();
      return undefined;
    } catch (e) {
      return translateError(e, host, target, purpose);
    } finally {
      if (before === undefined) delete process.env.CDK_VALIDATION;
      else process.env.CDK_VALIDATION = before;
    }
  }

  it('synth and deploy stop on a finding', async () => {
    for (const purpose of ['synth', 'deploy'] as const) {
      const e = await synthWithFinding(purpose);
      expect(e, purpose).toMatchObject({ code: 'CHECK_FAILED' });
      expect(String((e as Error).message)).toContain('paypipe-dev/Careless');
    }
  }, 180_000);

  it('diff and destroy are never blocked by one', async () => {
    for (const purpose of ['diff', 'destroy'] as const)
      expect(await synthWithFinding(purpose), purpose).toBeUndefined();
  }, 180_000);
});

describe('deploy', () => {
  it('updates an existing stack with a drift-aware change set, and creates a new one with a plain one', () => {
    expect(deploymentMethod(true)).toEqual({ method: 'change-set', revertDrift: true });
    expect(deploymentMethod(false)).toEqual({ method: 'change-set' });
    // --no-revert-drift
    expect(deploymentMethod(true, false)).toEqual({ method: 'change-set' });
    // --method direct: CreateStack/UpdateStack, which cannot revert drift
    expect(deploymentMethod(true, true, 'direct')).toEqual({ method: 'direct' });
    expect(deploymentMethod(false, true, 'direct')).toEqual({ method: 'direct' });
  });

  it('destroy of a protected stack says how to lift the protection', () => {
    const target = infraTarget({ env: 'prod' }, {});
    const host = new PaypipeIoHost(capture().io);
    const e = translateError(
      new Error('Stack [paypipe-prod] cannot be deleted while TerminationProtection is enabled'),
      host,
      target,
      'destroy',
    );
    expect(e.message).toBe(
      'paypipe-prod in ap-southeast-2 has termination protection, so it cannot be destroyed',
    );
    expect(e.hint).toContain('"terminationProtection": false in the "prod" section of paypipe.config.json');
  });
});
