/**
 * `paypipe scale` on AWS: kinesalite implements neither UpdateShardCount nor UpdateStreamMode, so
 * Kinesis is faked (aws-sdk-client-mock) with a stream that moves through UPDATING to ACTIVE the
 * way Kinesis does. Adversaries: a stream already resharding, on-demand to provisioned (mode first,
 * then the count), a change that never settles (a timeout, by an injected clock), and conflicting flags.
 */
import {
  DescribeStreamSummaryCommand,
  KinesisClient,
  UpdateShardCountCommand,
  UpdateStreamModeCommand,
} from '@aws-sdk/client-kinesis';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { STACK_OUTPUT_KEYS } from '../../../src/infra/output-keys.js';
import { runScale } from '../../../src/cli/scale/scale.js';
import { isPaypipeError } from '../../../src/errors.js';
import { captureIo } from '../../helpers/ops.js';

const kinesisMock = mockClient(KinesisClient);
const STREAM = 'paypipe-dev-input-stream';
const ARN = `arn:aws:kinesis:ap-southeast-2:123456789012:stream/${STREAM}`;

/** A stream whose changes take `polls` DescribeStreamSummary calls to settle. */
function stream(start: { mode: 'PROVISIONED' | 'ON_DEMAND'; shards: number; status?: string }, polls = 2) {
  let s = { status: start.status ?? 'ACTIVE', mode: start.mode, shards: start.shards };
  let pending: (() => void) | undefined;
  let left = 0;
  kinesisMock.on(DescribeStreamSummaryCommand).callsFake(() => {
    if (pending !== undefined && --left <= 0) {
      pending();
      pending = undefined;
      s = { ...s, status: 'ACTIVE' };
    }
    return {
      StreamDescriptionSummary: {
        StreamName: STREAM,
        StreamARN: ARN,
        StreamStatus: s.status,
        StreamModeDetails: { StreamMode: s.mode },
        OpenShardCount: s.shards,
        RetentionPeriodHours: 24,
      },
    };
  });
  kinesisMock.on(UpdateShardCountCommand).callsFake((input: { TargetShardCount: number }) => {
    s = { ...s, status: 'UPDATING' };
    left = polls;
    pending = () => {
      s.shards = input.TargetShardCount;
    };
    return { CurrentShardCount: s.shards, TargetShardCount: input.TargetShardCount };
  });
  kinesisMock
    .on(UpdateStreamModeCommand)
    .callsFake((input: { StreamModeDetails: { StreamMode: 'ON_DEMAND' } }) => {
      s = { ...s, status: 'UPDATING' };
      left = polls;
      pending = () => {
        s.mode = input.StreamModeDetails.StreamMode;
      };
      return {};
    });
}

const flags = { env: 'dev', region: 'ap-southeast-2' };
const deps = () => ({
  kinesis: new KinesisClient({ region: 'ap-southeast-2' }),
  sleep: async () => {},
  pollMs: 1,
});

const cfn = mockClient(CloudFormationClient);
beforeAll(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'example');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});
afterAll(() => {
  vi.unstubAllEnvs();
  cfn.restore();
  kinesisMock.restore();
});
beforeEach(() => {
  kinesisMock.reset();
  cfn.reset();
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'paypipe-dev',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: STACK_OUTPUT_KEYS.map((k) => ({
          OutputKey: k,
          OutputValue: k === 'InputStreamName' ? STREAM : `${k}-v`,
        })),
      },
    ],
  });
});

describe('paypipe scale (AWS)', () => {
  it('reshards uniformly and waits, with progress, until the stream is ACTIVE at the new count', async () => {
    stream({ mode: 'PROVISIONED', shards: 2 });
    const c = captureIo();
    const r = await runScale({ ...flags, shards: 4 }, c.io, deps());
    expect(r).toMatchObject({
      before: { shards: 2 },
      after: { mode: 'PROVISIONED', shards: 4 },
      changed: true,
      settled: true,
    });
    expect(kinesisMock.commandCalls(UpdateShardCountCommand)[0]?.args[0].input).toEqual({
      StreamName: STREAM,
      TargetShardCount: 4,
      ScalingType: 'UNIFORM_SCALING',
    });
    // Progress on stderr (a spinner on a terminal): the change, then where it ended.
    expect(c.err()).toContain('2 shards (2,000 records/s, 2 MiB/s) → 4 shards');
    expect(c.err().trim().split('\n').at(-1)).toBe(`${STREAM}: 4 shards (4,000 records/s, 4 MiB/s)`);
    // It polled through UPDATING (the fake takes two polls to settle).
    expect(kinesisMock.commandCalls(DescribeStreamSummaryCommand).length).toBeGreaterThanOrEqual(3);
    expect(r.note).toContain('paypipe.config.json');
  });

  it('on-demand to a shard count: the mode first (by ARN), then the count', async () => {
    stream({ mode: 'ON_DEMAND', shards: 4 });
    const r = await runScale({ ...flags, shards: 2 }, captureIo().io, deps());
    expect(kinesisMock.commandCalls(UpdateStreamModeCommand)[0]?.args[0].input).toEqual({
      StreamARN: ARN,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    });
    expect(kinesisMock.commandCalls(UpdateShardCountCommand)).toHaveLength(1);
    expect(r.after).toEqual({ mode: 'PROVISIONED', shards: 2 });
  });

  it('--on-demand switches the mode; the same capacity again changes nothing', async () => {
    stream({ mode: 'PROVISIONED', shards: 2 });
    expect((await runScale({ ...flags, onDemand: true }, captureIo().io, deps())).after.mode).toBe(
      'ON_DEMAND',
    );
    kinesisMock.reset();
    stream({ mode: 'PROVISIONED', shards: 2 });
    const same = await runScale({ ...flags, shards: 2 }, captureIo().io, deps());
    expect(same.changed).toBe(false);
    expect(kinesisMock.commandCalls(UpdateShardCountCommand)).toHaveLength(0);
  });

  it('refuses while a resharding is in progress, and shows it without flags', async () => {
    stream({ mode: 'PROVISIONED', shards: 2, status: 'UPDATING' });
    const shown = await runScale(flags, captureIo().io, deps());
    expect(shown.note).toContain('in progress');
    const e = await runScale({ ...flags, shards: 4 }, captureIo().io, deps()).catch((x: unknown) => x);
    expect(isPaypipeError(e) && e.message).toContain('UPDATING');
    expect(kinesisMock.commandCalls(UpdateShardCountCommand)).toHaveLength(0);
  });

  it('a change that does not settle times out with one line (injected clock)', async () => {
    stream({ mode: 'PROVISIONED', shards: 2 }, 1_000_000);
    let t = 0;
    const e = await runScale({ ...flags, shards: 4 }, captureIo().io, {
      ...deps(),
      now: () => (t += 60_000),
      timeoutMs: 5 * 60_000,
    }).catch((x: unknown) => x);
    expect(isPaypipeError(e) && e.code).toBe('TIMEOUT');
  });

  it('--shards with --on-demand is a usage error', async () => {
    const e = await runScale({ ...flags, shards: 2, onDemand: true }, captureIo().io, deps()).catch(
      (x: unknown) => x,
    );
    expect(isPaypipeError(e) && e.code).toBe('USAGE');
  });
});
