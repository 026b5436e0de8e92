/**
 * Permissions, locally: every SDK call a local function makes is checked against the policies the
 * template attaches to its execution role. Adversary: a stack change that drops a grant the code
 * needs (AccessDenied only in the account, on AWS) — here it must fail the local pipeline at once,
 * with AWS's error. And the opposite drift: a role that holds actions no code path uses.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { templateOf } from '../../src/local/assembly.js';
import type { LogEvent } from '../../src/local/function-runtime.js';
import { grantedActions } from '../../src/local/iam.js';
import {
  makeEvents,
  sendEvents,
  sendRaw,
  startTestPipeline,
  type TestPipeline,
  testAssembly,
} from '../helpers/local-pipeline.js';
import { waitFor } from '../helpers/wait-for.js';

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
}
type Template = {
  Resources: Record<
    string,
    { Type: string; Properties: { PolicyDocument?: { Statement: Statement[] }; Roles?: unknown[] } }
  >;
};

const dirs: string[] = [];
let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.cleanup();
  p = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The test assembly with `action` taken out of the statements of `policyPrefix`'s policy. */
async function withoutGrant(policyPrefix: string, action: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'paypipe-iam-'));
  dirs.push(dir);
  cpSync(await testAssembly(), dir, { recursive: true });
  const file = templateOf(dir, 'paypipe-dev');
  const t = JSON.parse(readFileSync(file, 'utf8')) as Template;
  let removed = 0;
  for (const [id, r] of Object.entries(t.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' || !id.startsWith(policyPrefix)) continue;
    const doc = r.Properties.PolicyDocument as { Statement: Statement[] };
    doc.Statement = doc.Statement.flatMap((s) => {
      const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]).filter((a) => a !== action);
      removed += (Array.isArray(s.Action) ? s.Action.length : 1) - actions.length;
      return actions.length === 0 ? [] : [{ ...s, Action: actions }];
    });
  }
  expect(removed).toBeGreaterThan(0);
  writeFileSync(file, JSON.stringify(t));
  return dir;
}

const logText = (dataDir: string, fn: string): string =>
  readFileSync(join(dataDir, 'logs', `${fn}.ndjson`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as LogEvent).message)
    .join('\n');

describe('local IAM: a grant removed from the stack fails the local pipeline with AccessDenied', () => {
  it('the aggregator without kinesis:PutRecords on the output stream', async () => {
    p = await startTestPipeline({
      assembly: await withoutGrant('AggregatorRoleDefaultPolicy', 'kinesis:PutRecords'),
    });
    await sendEvents(p, makeEvents(30, { startMs: Date.now() - 60_000, spanMs: 60_000 }));
    const fault = await p.fault;
    expect(fault.kind).toBe('access-denied');
    expect(fault.message).toMatch(
      /^the aggregator was denied kinesis:PutRecords on arn:aws:kinesis:[a-z0-9-]+:000000000000:stream\/paypipe-dev-output-stream: the execution role AggregatorRole[0-9A-F]+ in .*paypipe-dev\.template\.json does not allow it \(AccessDenied, as on AWS\)$/,
    );
    expect(fault.hint).toContain('src/infra/pipeline-stack.ts');
    expect(p.status().accessDenied?.[0]?.message).toMatch(
      /^User: arn:aws:sts::000000000000:assumed-role\/AggregatorRole[0-9A-F]+\/paypipe-dev-aggregator is not authorized to perform: kinesis:PutRecords on resource: arn:aws:kinesis:.*:stream\/paypipe-dev-output-stream because no identity-based policy allows the kinesis:PutRecords action$/,
    );
    // The function itself saw the SDK's AccessDeniedException, parsed from the service's answer.
    const pipeline = p;
    await waitFor(
      () => /AccessDeniedException/.test(logText(pipeline.dataDir, 'aggregator')),
      'the aggregator logging AccessDeniedException',
    );
  });

  it('the aggregator without s3:PutObject on its dead-letter prefix (only bad records need it)', async () => {
    p = await startTestPipeline({
      assembly: await withoutGrant('AggregatorRoleDefaultPolicy', 's3:PutObject'),
    });
    await sendRaw(p, [{ data: 'not json', partitionKey: 'k' }]);
    const fault = await p.fault;
    expect(fault.kind).toBe('access-denied');
    expect(fault.message).toMatch(
      /denied s3:PutObject on arn:aws:s3:::paypipe-dev-analytics-[a-z0-9-]+\/dead-letters\//,
    );
    const pipeline = p;
    // S3's own error code (403, XML), as the SDK reports it.
    await waitFor(
      () => /AccessDenied/.test(logText(pipeline.dataDir, 'aggregator')),
      'the aggregator logging AccessDenied',
    );
  });

  it('the producer without kinesis:PutRecords on the input stream', async () => {
    p = await startTestPipeline({
      assembly: await withoutGrant('ProducerRoleDefaultPolicy', 'kinesis:PutRecords'),
    });
    const invoked = p.invokeProducer({ count: 5 }).then(
      (r) => r,
      (e: unknown) => e,
    );
    const fault = await p.fault;
    expect(fault.message).toMatch(
      /^the producer was denied kinesis:PutRecords on .*stream\/paypipe-dev-input/,
    );
    await invoked;
  });

  it("the event source mapping reads with the aggregator's role: without kinesis:GetRecords it cannot poll", async () => {
    p = await startTestPipeline({
      assembly: await withoutGrant('AggregatorRoleDefaultPolicy', 'kinesis:GetRecords'),
    });
    const fault = await p.fault;
    expect(fault.message).toMatch(
      /^the aggregator's event source mapping was denied kinesis:GetRecords on .*stream\/paypipe-dev-input/,
    );
  });
});

/**
 * Actions a role holds that no local code path uses, each with the reason it stays. The test fails
 * when a role gains an action nobody uses (remove it, or justify it here and in docs/local-pipeline.md)
 * and when an entry here goes stale (the action is used now, or no longer held).
 */
const JUSTIFIED: Record<'producer' | 'aggregator', Record<string, string>> = {
  producer: {},
  aggregator: {
    'kinesis:DescribeStream':
      "Lambda's Kinesis poller (the AWSLambdaKinesisExecutionRole set); the local mapping lists shards instead",
    'kinesis:DescribeStreamSummary': "Lambda's Kinesis poller; granted by KinesisEventSource",
    'kinesis:ListStreams': "Lambda's Kinesis poller; granted by KinesisEventSource",
    'kinesis:SubscribeToShard':
      'enhanced fan-out only (not used: no consumer); granted by KinesisEventSource, which cannot leave it out',
    'kinesis:DescribeStreamConsumer':
      'enhanced fan-out only (not used: no consumer); granted by KinesisEventSource',
    'sqs:SendMessage':
      "the mapping's on-failure destination: Lambda sends the failed-batch record with the function's role (locally: failed-batches.ndjson)",
    'sqs:GetQueueAttributes':
      'the on-failure destination: Lambda checks the queue when the mapping is created',
    'sqs:GetQueueUrl':
      'the on-failure destination (granted with SendMessage by the SQS destination construct)',
  },
};

describe('unused permissions', () => {
  it('every action each role holds is used by a code path, or is justified', async () => {
    p = await startTestPipeline({ configOverrides: { shardCount: 2 } });
    // Every path: valid events (output puts), bad records (dead-letter put), the producer's run.
    await sendEvents(p, makeEvents(200, { startMs: Date.now() - 120_000, spanMs: 120_000 }));
    await sendRaw(p, [{ data: '{"broken"', partitionKey: 'x' }]);
    await p.invokeProducer({ count: 20 });
    await p.waitForIdle({ timeoutMs: 30_000 });
    expect(p.status().accessDenied).toBeUndefined();
    const report: Record<string, { held: string[]; used: string[]; unused: string[] }> = {};
    for (const role of ['producer', 'aggregator'] as const) {
      const held = grantedActions(p.assembly.functions[role].executionRole.statements);
      const used = [
        ...new Set([...p.iam[role].code.used.keys(), ...p.iam[role].platform.used.keys()]),
      ].sort();
      report[role] = { held, used, unused: held.filter((a) => !used.includes(a)) };
    }
    // The report, for whoever reads the test output.
    console.info(JSON.stringify(report, null, 2));
    for (const role of ['producer', 'aggregator'] as const) {
      expect(report[role]?.unused, `${role}: held but unused and not justified`).toEqual(
        Object.keys(JUSTIFIED[role]).sort(),
      );
      // Every call the code made was one the role grants (the stack does not under-grant).
      for (const a of report[role]?.used ?? []) expect(report[role]?.held).toContain(a);
    }
  });
});
